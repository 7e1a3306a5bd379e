local segment, version, drained, now = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4]
-- KEYS: one membership hash per user (all of one hash slot); ARGV[4 + i]: 'a' (joins) or 'r' (leaves) for KEYS[i].
-- A user's field for the segment is '<version>|<1 in, 0 out>|<since (in) or left (out), ms>'. A page applies to a user
-- only if no newer version decided their membership, so a late page never brings back what a newer sync removed.
-- Someone already in (and not drained since) keeps their original since. Returns per user: 1 in, 2 out, 0 superseded.
local out = {}
for i, key in ipairs(KEYS) do
  local current = redis.call('HGET', key, segment)
  local v, state, at = -1, '0', ''
  if current then
    local cv, cs, ca = string.match(current, '^(%d+)|(%d)|(%d+)$')
    v, state, at = tonumber(cv), cs, ca
  end
  if v > version then
    out[i] = 0
  elseif ARGV[4 + i] == 'a' then
    local since = now
    if state == '1' and v > drained then since = at end
    redis.call('HSET', key, segment, ARGV[2] .. '|1|' .. since)
    out[i] = 1
  else
    redis.call('HSET', key, segment, ARGV[2] .. '|0|' .. now)
    out[i] = 2
  end
end
return out
