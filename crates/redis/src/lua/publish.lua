-- Atomic publish: dedup, the mailbox limit, seq allocation, store, wake-up.
-- KEYS: S stream, E expiry zset (seq -> expires_at), D dedup hash
--       (sha256 -> seq), M meta hash (n = newest seq), C cursors hash
-- ARGV: sha, now_ms, ttl_ms, tag, prompt, publisher, has_att, att, message,
--       limit, channel, publish command, key grace ms
-- Returns {0, prev, seq} stored, {1, newest, seq, fields} duplicate,
-- {2} mailbox full.
local S, E, D, M, C = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local sha, now, ttl = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local tag, prompt, publisher = ARGV[4], ARGV[5], ARGV[6]
local has_att, att, msg = ARGV[7], ARGV[8], ARGV[9]
local limit, channel, pubcmd, grace = tonumber(ARGV[10]), ARGV[11], ARGV[12], tonumber(ARGV[13])

local function entry(seq)
  local r = redis.call('XRANGE', S, xid(seq), xid(seq))
  if #r == 0 then
    return nil
  end
  return r[1][2]
end

-- Deletes one stored message with its index entries.
local function drop(seq, fl)
  redis.call('XDEL', S, xid(seq))
  redis.call('ZREM', E, fmt(seq))
  local h = fl and field(fl, 'h')
  if h and redis.call('HGET', D, h) == fmt(seq) then
    redis.call('HDEL', D, h)
  end
end

-- Deletes up to `max` expired messages.
local function prune(max)
  local due = redis.call('ZRANGEBYSCORE', E, '-inf', now, 'LIMIT', 0, max)
  for _, s in ipairs(due) do
    local seq = tonumber(s)
    drop(seq, entry(seq))
  end
end

local last = tonumber(redis.call('HGET', M, 'n') or '0')

local dup = redis.call('HGET', D, sha)
if dup then
  local seq = tonumber(dup)
  local fl = entry(seq)
  if fl and (tonumber(field(fl, 'x') or '0') or 0) > now then
    return {1, fmt(last), fmt(seq), fl}
  end
  if fl then
    drop(seq, fl)
  else
    redis.call('HDEL', D, sha)
  end
end

if redis.call('XLEN', S) >= limit then
  -- Expired messages still count until deleted: purge them all first, so
  -- the limit is a limit on live messages.
  prune(redis.call('XLEN', S))
  if redis.call('XLEN', S) >= limit then
    return {2}
  end
else
  prune(16)
end

-- The seq: one above the topic's newest, and never below Redis time in ms
-- times 1024. The floor keeps seqs increasing even after the topic's keys
-- expired and its counter was lost (connections and cursors may still hold
-- old positions), as long as the clock does not step back by more than the
-- shortest TTL.
local t = redis.call('TIME')
local floor = (tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)) * 1024
local seq = math.max(last + 1, floor)
local expires = now + ttl

local add = {'XADD', S, xid(seq), 'm', msg, 'g', tag, 'p', prompt, 't', fmt(now),
  'x', fmt(expires), 'f', publisher, 'h', sha}
if has_att == '1' then
  add[#add + 1] = 'a'
  add[#add + 1] = att
end
redis.call(unpack(add))
redis.call('ZADD', E, fmt(expires), fmt(seq))
redis.call('HSET', D, sha, fmt(seq))
redis.call('HSET', M, 'n', fmt(seq))

-- Every key of the topic lives until its newest message expires (plus a
-- grace for clock skew between nodes); lifetimes are never shortened.
local life = ttl + grace
for _, k in ipairs({S, E, D, M, C}) do
  local p = redis.call('PTTL', k)
  if p == -1 or (p >= 0 and p < life) then
    redis.call('PEXPIRE', k, life)
  end
end

-- The wake-up: a header line, then publisher, attestation and message.
local att_len = '-1'
if has_att == '1' then
  att_len = tostring(#att)
else
  att = ''
end
local head = table.concat({'1', fmt(seq), fmt(last), fmt(now), fmt(expires), tag, prompt,
  tostring(#publisher), att_len}, ' ')
redis.call(pubcmd, channel, head .. '\n' .. publisher .. att .. msg)
return {0, fmt(last), fmt(seq)}
