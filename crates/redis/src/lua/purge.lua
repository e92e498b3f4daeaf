-- Deletes every message of a topic (the operator's repair). The newest seq
-- (meta) and the delivery positions stay, so seqs keep increasing and
-- later publishes are delivered as usual.
-- KEYS: S stream, E expiry zset, D dedup hash. Returns how many entries.
local n = redis.call('XLEN', KEYS[1])
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3])
return n
