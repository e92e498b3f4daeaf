-- Acks delivered messages for one client and advances its cursor.
-- KEYS: S stream, E expiry zset, C cursors hash, A acks set
-- ARGV: client, now_ms, seq...
local seqs = {}
for i = 3, #ARGV do
  seqs[#seqs + 1] = ARGV[i]
end
ack(KEYS[1], KEYS[2], KEYS[3], KEYS[4], ARGV[1], seqs, tonumber(ARGV[2]))
return 1
