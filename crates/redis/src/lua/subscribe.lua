-- Subscribes a client to a topic, atomically within its per-client limit.
-- KEYS[1] the client's subscription set; ARGV[1] the topic (hex), ARGV[2] the limit.
-- Returns 1 when added, 0 when already subscribed, -1 when the limit is reached.
if redis.call('SISMEMBER', KEYS[1], ARGV[1]) == 1 then
  return 0
end
if redis.call('SCARD', KEYS[1]) >= tonumber(ARGV[2]) then
  return -1
end
redis.call('SADD', KEYS[1], ARGV[1])
return 1
