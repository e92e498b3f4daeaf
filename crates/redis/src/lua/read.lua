-- Pending messages for one client, as a snapshot up to the topic's newest
-- seq; with consume = 1 (irn_fetchMessages) what is returned is acked.
-- KEYS: S stream, E expiry zset, M meta hash, C cursors hash, A acks set
-- ARGV: client, after, limit, now_ms, consume, max_bytes, seq...
-- A page holds at most `limit` messages and, past its first, `max_bytes`
-- bytes of field values.
-- The trailing seqs are acks the calling node has buffered but not yet
-- flushed: they count as acked here, and with consume they are recorded
-- together with what is returned.
-- Returns {newest, has_more, {id, fields}...}.
local S, E, M, C, A = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local client, after, limit = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local now, consume = tonumber(ARGV[4]), ARGV[5] == '1'
local max_bytes = tonumber(ARGV[6])
local buffered = {}
for i = 7, #ARGV do
  local s = tonumber(ARGV[i])
  if s then
    buffered[s] = true
  end
end

local last = tonumber(redis.call('HGET', M, 'n') or '0')
local cursor = tonumber(redis.call('HGET', C, client) or '0')
local from = math.max(after, cursor)
local out = {fmt(last), 0}
local got = {}
local bytes = 0
if from < last then
  local has_acks = redis.call('EXISTS', A) == 1
  local start = '(' .. xid(from)
  local done = false
  while not done do
    local batch = redis.call('XRANGE', S, start, xid(last), 'COUNT', 64)
    for _, e in ipairs(batch) do
      start = '(' .. e[1]
      local seq = seq_of(e[1])
      if not own_or_expired(e[2], client, now) and not buffered[seq]
        and not (has_acks and redis.call('SISMEMBER', A, fmt(seq)) == 1) then
        local size = 0
        for i = 2, #e[2], 2 do
          size = size + #e[2][i]
        end
        if #got >= limit or (#got > 0 and bytes + size > max_bytes) then
          out[2] = 1
          done = true
          break
        end
        bytes = bytes + size
        got[#got + 1] = fmt(seq)
        out[#out + 1] = e
      end
    end
    if #batch < 64 then
      break
    end
  end
end
if consume then
  local acked = got
  for seq, _ in pairs(buffered) do
    acked[#acked + 1] = fmt(seq)
  end
  if #acked > 0 then
    ack(S, E, C, A, client, acked, now)
  end
end
return out
