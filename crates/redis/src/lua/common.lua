-- Helpers shared by the mailbox scripts (prepended to each of them).
--
-- A topic's messages live in a STREAM whose entry ids are "0-<seq>". Lua
-- numbers are doubles, exact up to 2^53; seqs stay far below that (see
-- publish.lua), but numbers above 1e14 must be printed with %.0f.

local function fmt(n)
  return string.format('%.0f', n)
end

local function xid(seq)
  return '0-' .. fmt(seq)
end

local function seq_of(id)
  return tonumber(string.sub(id, 3))
end

-- The value of `name` in a flat field list {k1, v1, k2, v2, ...}.
local function field(fl, name)
  for i = 1, #fl, 2 do
    if fl[i] == name then
      return fl[i + 1]
    end
  end
  return nil
end

-- A message is owed to `client` unless it published it or it has expired.
local function own_or_expired(fl, client, now)
  return field(fl, 'f') == client or (tonumber(field(fl, 'x') or '0') or 0) <= now
end

-- Records acks of `seqs` for `client` and moves its cursor over every
-- consecutive message that is acked, own or expired (the cursor means
-- "everything up to here is done"). Acks above the cursor wait in the set A.
local function ack(S, E, C, A, client, seqs, now)
  local cursor = tonumber(redis.call('HGET', C, client) or '0')
  local fresh = {}
  local any = false
  for _, s in ipairs(seqs) do
    local seq = tonumber(s)
    if seq and seq > cursor and not fresh[seq] and redis.call('ZSCORE', E, fmt(seq)) then
      fresh[seq] = true
      any = true
    end
  end
  if not any then
    return
  end
  local has_acks = redis.call('EXISTS', A) == 1
  local newc = cursor
  local start = '(' .. xid(cursor)
  local stop = false
  -- Usually the walk passes the acked message and stops at the next one:
  -- read a few entries first (each copies its payload), more if it goes on.
  local count = 2
  while not stop do
    local batch = redis.call('XRANGE', S, start, '+', 'COUNT', count)
    for _, e in ipairs(batch) do
      local seq = seq_of(e[1])
      local done = fresh[seq]
        or (has_acks and redis.call('SISMEMBER', A, fmt(seq)) == 1)
        or own_or_expired(e[2], client, now)
      if not done then
        stop = true
        break
      end
      newc = seq
      start = '(' .. e[1]
    end
    if #batch < count then
      break
    end
    count = math.min(count * 4, 128)
  end
  if newc > cursor then
    redis.call('HSET', C, client, fmt(newc))
  end
  if has_acks then
    -- Acks the cursor passed (also of deleted messages) are implied now.
    for _, m in ipairs(redis.call('SMEMBERS', A)) do
      if (tonumber(m) or 0) <= newc then
        redis.call('SREM', A, m)
      end
    end
  end
  for seq, _ in pairs(fresh) do
    if seq > newc then
      redis.call('SADD', A, fmt(seq))
    end
  end
  -- Delivery state lives as long as the messages it is about.
  local life = redis.call('PTTL', S)
  if life > 0 then
    if redis.call('PTTL', C) < life then
      redis.call('PEXPIRE', C, life)
    end
    if redis.call('EXISTS', A) == 1 then
      redis.call('PEXPIRE', A, life)
    end
  end
end
