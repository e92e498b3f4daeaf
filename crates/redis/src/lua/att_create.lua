-- Creates a pending request unless a live one exists.
-- KEYS: R record hash, X expiry zset, N counters hash
-- ARGV: request_id, now_ms, then the record's field/value pairs (which
--       include app_sha, created, expires and fp)
-- Returns {1} created, {0, fields} identical live request, {-1} conflict.
local R, X, N = KEYS[1], KEYS[2], KEYS[3]
local id, now = ARGV[1], tonumber(ARGV[2])
local new = {}
for i = 3, #ARGV, 2 do
  new[ARGV[i]] = ARGV[i + 1]
end
local flat = redis.call('HGETALL', R)
if #flat > 0 then
  local old = tomap(flat)
  if now <= tonumber(old.expires) then
    if old.fp == new.fp then
      return {0, flat}
    end
    return {-1}
  end
  redis.call('ZREM', app_key(old.app_sha, old.status), id)
  redis.call('HINCRBY', N, old.status, -1)
  redis.call('DEL', R)
end
local args = {'HSET', R}
for i = 3, #ARGV do
  args[#args + 1] = ARGV[i]
end
redis.call(unpack(args))
redis.call('ZADD', app_key(new.app_sha, 'pending'), new.created, id)
redis.call('ZADD', X, new.expires, id)
redis.call('HINCRBY', N, 'pending', 1)
return {1}
