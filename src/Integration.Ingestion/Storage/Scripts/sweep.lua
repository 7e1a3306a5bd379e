-- The retention sweeper's step on one user partition (docs/keyspace.md, "Retention"): a small batch of users a call,
-- so one call holds Redis for a short while whatever the partition's size.
local floor_ms, trim_stream, now_s, dedup_window_s = tonumber(ARGV[1]), ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
-- KEYS[1] the partition's stream; then per user of the batch: the user's event index, the user hash, the user's
-- aggregates hash of the layout before the user hash (read only while the user is not merged: no '_m').
local stream = KEYS[1]
local horizon = now_s - dedup_window_s

-- The arrival (ms) of an index member: '<base-36 ms>[.<seq>] <name key>', or '<ms>-<seq> <event name>' from before
-- (write.lua writes the first and spells this function the same).
local function arrival(member)
  local id = string.match(member, '^[^ ]+')
  if string.find(id, '-', 1, true) then return tonumber(string.match(id, '^%d+')) end
  return tonumber(string.match(id, '^%w+'), 36)
end

local swept, removed, markers = 0, 0, 0
for k = 2, #KEYS, 3 do
  local events, user, aggregates = KEYS[k], KEYS[k + 1], KEYS[k + 2]
  -- '_o' (the oldest arrival in the index) and '_t' (the oldest duplicate marker) spare a pass over users with nothing
  -- to remove.
  local v = redis.call('HMGET', user, '_m', '_o', '_t')
  local holder, oldest = user, v[2]
  if not v[1] then
    holder = aggregates
    oldest = redis.call('HGET', aggregates, '_o')
  end
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
    if keep then redis.call('HSET', holder, '_o', keep) else redis.call('HDEL', holder, '_o') end
    swept = swept + 1
  end
  -- A user who stopped writing keeps no markers past the window (write.lua drops them on the user's next write;
  -- the old layout's dedup hash expires by itself).
  if v[1] and v[3] and tonumber(v[3]) < horizon then
    local all, drop, keep = redis.call('HGETALL', user), {}, nil
    for i = 1, #all, 2 do
      local f = all[i]
      if string.byte(f, 1) == 107 then -- 'k'
        local t = tonumber(all[i + 1])
        if t < horizon then drop[#drop + 1] = f elseif not keep or t < keep then keep = t end
      end
    end
    for i = 1, #drop, 1000 do redis.call('HDEL', user, unpack(drop, i, math.min(i + 999, #drop))) end
    if keep then redis.call('HSET', user, '_t', keep) else redis.call('HDEL', user, '_t') end
    markers = markers + #drop
  end
end

-- A partition nobody writes to any more is not trimmed by its appends: the sweeper trims it by age too.
local trimmed = 0
if trim_stream == '1' then trimmed = redis.call('XTRIM', stream, 'MINID', '~', floor_ms) end
return { swept, removed, trimmed, markers }
