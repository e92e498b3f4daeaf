-- Drops one client's delivery state for a topic (unsubscribe).
-- KEYS: C cursors hash, A acks set; ARGV: client
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('DEL', KEYS[2])
return 1
