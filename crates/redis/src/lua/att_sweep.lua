-- Deletes up to `max` expired requests with their index entries.
-- KEYS: X expiry zset, N counters hash; ARGV: now_ms, max
-- Returns how many requests were deleted.
local X, N = KEYS[1], KEYS[2]
local now, max = tonumber(ARGV[1]), tonumber(ARGV[2])
local due = redis.call('ZRANGEBYSCORE', X, '-inf', '(' .. ARGV[1], 'LIMIT', 0, max)
local deleted = 0
for _, id in ipairs(due) do
  redis.call('ZREM', X, id)
  local R = P .. 'r:' .. id
  local flat = redis.call('HGETALL', R)
  if #flat > 0 then
    local rec = tomap(flat)
    if now > tonumber(rec.expires) then
      redis.call('DEL', R)
      redis.call('ZREM', app_key(rec.app_sha, rec.status), id)
      redis.call('HINCRBY', N, rec.status, -1)
      deleted = deleted + 1
    else
      -- Re-created with a later expiry: keep it indexed.
      redis.call('ZADD', X, rec.expires, id)
    end
  end
end
return deleted
