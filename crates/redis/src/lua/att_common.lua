-- Helpers shared by the attestation scripts (prepended to each of them).
-- Every attestation key carries the hash tag {rbatt}, so all of them live in
-- one cluster slot and a script may touch any of them.
local P = 'rb:{rbatt}:'

local function tomap(flat)
  local m = {}
  for i = 1, #flat, 2 do
    m[flat[i]] = flat[i + 1]
  end
  return m
end

local function app_key(app_sha, status)
  return P .. 'app:' .. app_sha .. ':' .. status
end
