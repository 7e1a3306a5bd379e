-- The retention sweeper's step on one user partition (docs/keyspace.md, "Retention"): a small batch of users a call,
-- so one call holds Redis for a short while whatever the partition's size.
local floor_ms, trim_stream = tonumber(ARGV[1]), ARGV[2]
-- KEYS[1] the partition's stream; then per user of the batch: the user's event index, the user's aggregates.
local stream = KEYS[1]

-- The arrival (ms) of an index member: '<base-36 ms>[.<seq>] <name key>', or '<ms>-<seq> <event name>' from before
-- (write.lua writes the first and spells this function the same).
local function arrival(member)
  local id = string.match(member, '^[^ ]+')
  if string.find(id, '-', 1, true) then return tonumber(string.match(id, '^%d+')) end
  return tonumber(string.match(id, '^%w+'), 36)
end

local swept, removed = 0, 0
for k = 2, #KEYS, 2 do
  local events, aggregates = KEYS[k], KEYS[k + 1]
  -- '_o' (the oldest arrival in the index) spares a pass over users with nothing to remove.
  local oldest = redis.call('HGET', aggregates, '_o')
  if oldest and tonumber(oldest) < floor_ms then
    local keep
    for _, member in ipairs(redis.call('ZRANGE', events, 0, -1)) do
      local received = arrival(member)
      if received < floor_ms then
        redis.call('ZREM', events, member)
        removed = removed + 1
      elseif not keep or received < keep then
        keep = received
      end
    end
    -- An emptied index is gone (Redis deletes empty sorted sets); the next write sets '_o' again.
    if keep then redis.call('HSET', aggregates, '_o', keep) else redis.call('HDEL', aggregates, '_o') end
    swept = swept + 1
  end
end

-- A partition nobody writes to any more is not trimmed by its appends: the sweeper trims it by age too.
local trimmed = 0
if trim_stream == '1' then trimmed = redis.call('XTRIM', stream, 'MINID', '~', floor_ms) end
return { swept, removed, trimmed }
