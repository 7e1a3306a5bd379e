-- Stores records of one hash slot (a user partition, docs/keyspace.md), each atomically and as if alone.
local now_ms, dedup_window_s, stream_field = ARGV[1], ARGV[2], ARGV[3]
-- Then per record: kind ('u' | 'e'), how many of its own arguments follow, those arguments; and its keys:
--   user  args: payload id ('' = never a repeat), updated_at, customer id, profile field/value pairs...
--         keys: dedup, profile, users
--   event args: event id, event time, event name, event name key (its 6 bytes in index members), stream entry,
--               customer id, retention floor (ms: events received before it are dropped from the stream and the
--               user's index), updated_at ('' = no profile keys), profile field/value pairs...
--         keys: dedup, stream, user events, aggregates, profile, users
-- Returns one outcome per record: 0 repeat (nothing written), 1 stored, 2 stored but the profile was newer.
-- Numbers travel as the caller's strings: a Lua number handed back to Redis would be formatted again.
local now_s = math.floor(tonumber(now_ms) / 1000)
local window = tonumber(dedup_window_s)

-- The dedup hash remembers ids for the window: the key expires a window after the user's last write, and
-- entries older than the window are dropped when the oldest ('_t') has aged out, so it never grows for ever.
local function first_time(dedup, id)
  if redis.call('HSETNX', dedup, id, now_s) == 0 then return false end
  local oldest = redis.call('HGET', dedup, '_t')
  if not oldest then
    redis.call('HSET', dedup, '_t', now_s)
  elseif tonumber(oldest) < now_s - window then
    local all, keep = redis.call('HGETALL', dedup), now_s
    for i = 1, #all, 2 do
      local f, t = all[i], tonumber(all[i + 1])
      if f ~= '_t' then
        if t < now_s - window then redis.call('HDEL', dedup, f) elseif t < keep then keep = t end
      end
    end
    redis.call('HSET', dedup, '_t', keep)
  end
  redis.call('EXPIRE', dedup, window)
  return true
end

-- Profiles: the last writer by updated_at wins, never by arrival (Heap sends retroactive and retried data out of
-- order). A user whose profile exists is already in the users index (both are written together).
local function update_profile(profile, users, customer_id, updated_at, first, last)
  local seen = redis.call('HGET', profile, '_u')
  if not seen then redis.call('ZADD', users, 'NX', now_ms, customer_id) end
  if updated_at == '' then return 1 end
  if tonumber(updated_at) < tonumber(seen or '-1') then return 2 end
  redis.call('HSET', profile, '_u', updated_at, unpack(ARGV, first, last))
  return 1
end

-- Raw events are kept for the retention window after they were received (Heap's retroactive data included): the
-- stream entry id is the arrival time, taken from the caller's clock when it is ahead of the stream's last entry.
local function append(stream, retention_floor, entry)
  local id = redis.pcall('XADD', stream, 'MINID', '~', retention_floor, now_ms .. '-*', stream_field, entry)
  if type(id) == 'table' and id.err then
    id = redis.call('XADD', stream, 'MINID', '~', retention_floor, '*', stream_field, entry)
  end
  return id
end

-- A user's index member: the stream entry id '<ms>-<seq>' as base-36 ms, '.' and base-36 seq unless it is 0, a
-- space, the event name's key (C#: UserKeyspace.ParseEventMember reads it; sweep.lua spells arrival() the same).
local digits36 = '0123456789abcdefghijklmnopqrstuvwxyz'
local function base36(n)
  local s = ''
  repeat
    local d = n % 36
    s = string.sub(digits36, d + 1, d + 1) .. s
    n = (n - d) / 36
  until n == 0
  return s
end

local function index_member(entry_id, name_key)
  local ms, seq = string.match(entry_id, '^(%d+)-(%d+)$')
  local id = base36(tonumber(ms))
  if seq ~= '0' then id = id .. '.' .. base36(tonumber(seq)) end
  return id .. ' ' .. name_key
end

-- The arrival (ms) of an index member of either layout: the one above, or '<ms>-<seq> <event name>' from before.
local function arrival(member)
  local id = string.match(member, '^[^ ]+')
  if string.find(id, '-', 1, true) then return tonumber(string.match(id, '^%d+')) end
  return tonumber(string.match(id, '^%w+'), 36)
end

-- The user's index loses entries received before the floor once its oldest ('_o' in the aggregates, read with them)
-- is older: a whole pass over the index, at most about once per user and retention window. Returns the '_o' to
-- store, or nil when it stays.
local function trim_index(events, retention_floor, entry_id, oldest)
  local floor = tonumber(retention_floor)
  if not oldest then return string.match(entry_id, '^%d+') end
  if tonumber(oldest) >= floor then return nil end
  local keep
  for _, member in ipairs(redis.call('ZRANGE', events, 0, -1)) do
    local received = arrival(member)
    if received < floor then redis.call('ZREM', events, member) elseif not keep or received < keep then keep = received end
  end
  return keep or string.match(entry_id, '^%d+')
end

local out = {}
local k, a = 1, 4
while a <= #ARGV do
  local kind, first = ARGV[a], a + 2
  local last = first + tonumber(ARGV[a + 1]) - 1
  local result = 0
  if kind == 'u' then
    local payload_id, updated_at, customer_id = ARGV[first], ARGV[first + 1], ARGV[first + 2]
    local dedup, profile, users = KEYS[k], KEYS[k + 1], KEYS[k + 2]
    if payload_id == '' or first_time(dedup, payload_id) then
      result = update_profile(profile, users, customer_id, updated_at, first + 3, last)
    end
    k = k + 3
  else
    local event_id, event_time, event_name, name_key, entry, customer_id, retention_floor, updated_at =
      ARGV[first], ARGV[first + 1], ARGV[first + 2], ARGV[first + 3], ARGV[first + 4], ARGV[first + 5], ARGV[first + 6], ARGV[first + 7]
    local dedup, stream, events, aggregates, profile, users = KEYS[k], KEYS[k + 1], KEYS[k + 2], KEYS[k + 3], KEYS[k + 4], KEYS[k + 5]
    if first_time(dedup, event_id) then
      -- The stream entry is the stored event (it is in the stream iff it is stored); raw events leave it by age.
      local entry_id = append(stream, retention_floor, entry)
      -- Aggregates stay for ever: count, first and last event time per event name; one read and one write of them.
      local c, f, l = 'c:' .. event_name, 'f:' .. event_name, 'l:' .. event_name
      local agg = redis.call('HMGET', aggregates, c, f, l, '_o')
      redis.call('ZADD', events, event_time, index_member(entry_id, name_key))
      local oldest = trim_index(events, retention_floor, entry_id, agg[4])
      local t = tonumber(event_time)
      local earliest, latest = agg[2], agg[3]
      if not earliest or t < tonumber(earliest) then earliest = event_time end
      if not latest or t > tonumber(latest) then latest = event_time end
      if oldest then
        redis.call('HSET', aggregates, c, (tonumber(agg[1]) or 0) + 1, f, earliest, l, latest, '_o', oldest)
      else
        redis.call('HSET', aggregates, c, (tonumber(agg[1]) or 0) + 1, f, earliest, l, latest)
      end
      result = update_profile(profile, users, customer_id, updated_at, first + 8, last)
    end
    k = k + 6
  end
  out[#out + 1] = result
  a = last + 1
end
return out
