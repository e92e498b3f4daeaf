-- Records the wallet's answer if the request is still pending.
-- KEYS: R record hash, N counters hash
-- ARGV: request_id, now_ms, status ("approved" | "denied"), field
--       ("credential" | "error"), value
-- Returns {1, fields}, {-2} unknown, {-3} expired, {-4, status} answered.
local R, N = KEYS[1], KEYS[2]
local id, now, status, name, value = ARGV[1], tonumber(ARGV[2]), ARGV[3], ARGV[4], ARGV[5]
local flat = redis.call('HGETALL', R)
if #flat == 0 then
  return {-2}
end
local rec = tomap(flat)
if now > tonumber(rec.expires) then
  return {-3}
end
if rec.status ~= 'pending' then
  return {-4, rec.status}
end
redis.call('HSET', R, 'status', status, name, value, 'answered', ARGV[2])
redis.call('ZREM', app_key(rec.app_sha, 'pending'), id)
redis.call('ZADD', app_key(rec.app_sha, status), rec.created, id)
redis.call('HINCRBY', N, 'pending', -1)
redis.call('HINCRBY', N, status, 1)
return {1, redis.call('HGETALL', R)}
