-- Stores records of one hash slot (a user partition, docs/keyspace.md), each atomically and as if alone.
local now_ms, dedup_window_s, stream_field = ARGV[1], ARGV[2], ARGV[3]
-- Then per record: kind ('u' | 'e' | 'm'), how many of its own arguments follow, those arguments; and its keys:
--   user  args: marker field ('' = never a repeat), updated_at, customer id, profile field/value pairs...
--         keys: user hash, old aggregates, old dedup, users
--   event args: marker field, event time, event name, event name key (its 6 bytes in index members), stream entry,
--               customer id, retention floor (ms: events received before it are dropped from the stream and the
--               user's index), updated_at ('' = no profile keys), profile field/value pairs...
--         keys: user hash, stream, user events, old aggregates, old dedup, users
--   merge args: none (the start-up pass, UserHashMigration: merges a user stored in the layout before the user hash)
--         keys: user hash, old aggregates, old dedup, users
-- The user hash holds a user's profile ('_u', 'a:'), aggregates ('c:', 'f:', 'l:', '_o') and duplicate markers ('k' +
-- id → arrival second, '_t' the oldest), '_m' once it is in this layout; the old aggregates and dedup hashes are those
-- of users stored before it, merged into it the first time a write touches the user.
-- Returns one outcome per record: 0 repeat (nothing written), 1 stored, 2 stored but the profile was newer; a merge
-- returns 1 when it moved something, else 0.
-- Numbers travel as the caller's strings: a Lua number handed back to Redis would be formatted again.
local now_s = math.floor(tonumber(now_ms) / 1000)
local window = tonumber(dedup_window_s)
local horizon = now_s - window

-- HSET/HDEL of many fields in slices: Lua's unpack has a bounded stack.
local function in_slices(command, key, items)
  for i = 1, #items, 1000 do
    redis.call(command, key, unpack(items, i, math.min(i + 999, #items)))
  end
end

-- Moves a user of the layout before the user hash into it: the aggregates (added to any the hash already has, so a
-- repeat or a hash an older replica wrote beside adds up) and the markers still inside the window, then deletes both.
-- Returns whether the user exists.
local function merge(user, aggregates, dedup)
  local fields = {}
  local old = redis.call('HGETALL', aggregates)
  if #old > 0 then
    local have = {}
    for i = 1, #old, 2000 do
      local names = {}
      for j = i, math.min(i + 1999, #old), 2 do names[#names + 1] = old[j] end
      for _, h in ipairs(redis.call('HMGET', user, unpack(names))) do have[#have + 1] = h end
    end
    for i = 1, #old, 2 do
      local f, v, h = old[i], old[i + 1], have[(i + 1) / 2]
      local kind = string.sub(f, 1, 1)
      if h then
        if kind == 'c' then v = tonumber(v) + tonumber(h)
        elseif (kind == 'f' or f == '_o') and tonumber(h) < tonumber(v) then v = h
        elseif kind == 'l' and tonumber(h) > tonumber(v) then v = h end
      end
      fields[#fields + 1] = f
      fields[#fields + 1] = v
    end
  end
  local markers = redis.call('HGETALL', dedup)
  local oldest = tonumber(redis.call('HGET', user, '_t'))
  for i = 1, #markers, 2 do
    local t = tonumber(markers[i + 1])
    if markers[i] ~= '_t' and t >= horizon then
      fields[#fields + 1] = 'k' .. markers[i]
      fields[#fields + 1] = markers[i + 1]
      if not oldest or t < oldest then oldest = t end
    end
  end
  if oldest then
    fields[#fields + 1] = '_t'
    fields[#fields + 1] = oldest
  end
  if #fields == 0 and redis.call('EXISTS', user) == 0 then return false end
  fields[#fields + 1] = '_m'
  fields[#fields + 1] = 1
  in_slices('HSET', user, fields)
  if #old > 0 or #markers > 0 then redis.call('DEL', aggregates, dedup) end
  return true
end

-- Reads the user hash: '_m', '_u', '_t', then the given fields. A user without '_m' is new or of the layout before:
-- the users index tells (every user ever stored is in it), and the latter is merged and read again.
-- Returns the values and whether the user is new.
local function load(user, aggregates, dedup, users, customer_id, ...)
  local v = redis.call('HMGET', user, '_m', '_u', '_t', ...)
  if v[1] then return v, false end
  -- Nothing to merge for a new user (or one with nothing stored): it gets '_m' with its first write.
  if redis.call('ZADD', users, 'NX', now_ms, customer_id) == 1 or not merge(user, aggregates, dedup) then return v, true end
  return redis.call('HMGET', user, '_m', '_u', '_t', ...), false
end

-- Markers are kept for the window: once the oldest ('_t') has aged out, one pass over the hash drops those older
-- than the window (sweep.lua does the same for users who stopped writing). Appends the fields to write to 'out' and
-- returns whether a marker field is added.
local function mark(user, marker, oldest, out)
  out[#out + 1] = marker
  out[#out + 1] = now_s
  if not oldest then
    out[#out + 1] = '_t'
    out[#out + 1] = now_s
  elseif tonumber(oldest) < horizon then
    local all, drop, keep = redis.call('HGETALL', user), {}, now_s
    for i = 1, #all, 2 do
      local f = all[i]
      if string.byte(f, 1) == 107 then -- 'k'
        local t = tonumber(all[i + 1])
        if t < horizon then drop[#drop + 1] = f elseif t < keep then keep = t end
      end
    end
    if #drop > 0 then in_slices('HDEL', user, drop) end
    out[#out + 1] = '_t'
    out[#out + 1] = keep
  end
end

-- A repeat: its marker is there and inside the window.
local function repeated(marker, seen)
  return marker ~= '' and seen and tonumber(seen) >= horizon
end

-- Profiles: the last writer by updated_at wins, never by arrival (Heap sends retroactive and retried data out of
-- order). Appends the profile's fields to 'out' unless the stored one is newer; returns the outcome.
local function profile(updated_at, seen, first, last, out)
  if updated_at == '' then return 1 end
  if tonumber(updated_at) < tonumber(seen or '-1') then return 2 end
  out[#out + 1] = '_u'
  out[#out + 1] = updated_at
  for i = first, last do out[#out + 1] = ARGV[i] end
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

-- The user's index loses entries received before the floor once its oldest ('_o' in the user hash, read with it)
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
    local marker, updated_at, customer_id = ARGV[first], ARGV[first + 1], ARGV[first + 2]
    local user, aggregates, dedup, users = KEYS[k], KEYS[k + 1], KEYS[k + 2], KEYS[k + 3]
    local v, new
    if marker == '' then
      v, new = load(user, aggregates, dedup, users, customer_id)
    else
      v, new = load(user, aggregates, dedup, users, customer_id, marker)
    end
    if not repeated(marker, v[4]) then
      local fields = {}
      if marker ~= '' then mark(user, marker, v[3], fields) end
      if new then
        fields[#fields + 1] = '_m'
        fields[#fields + 1] = 1
      end
      result = profile(updated_at, v[2], first + 3, last, fields)
      if #fields > 0 then redis.call('HSET', user, unpack(fields)) end
    end
    k = k + 4
  elseif kind == 'e' then
    local marker, event_time, event_name, name_key, entry, customer_id, retention_floor, updated_at =
      ARGV[first], ARGV[first + 1], ARGV[first + 2], ARGV[first + 3], ARGV[first + 4], ARGV[first + 5], ARGV[first + 6], ARGV[first + 7]
    local user, stream, events, aggregates, dedup, users = KEYS[k], KEYS[k + 1], KEYS[k + 2], KEYS[k + 3], KEYS[k + 4], KEYS[k + 5]
    -- One read of everything the event changes: its marker, its name's count and first/last times, the index's oldest.
    local c, f, l = 'c:' .. event_name, 'f:' .. event_name, 'l:' .. event_name
    local v, new = load(user, aggregates, dedup, users, customer_id, marker, c, f, l, '_o')
    if not repeated(marker, v[4]) then
      -- The stream entry is the stored event (it is in the stream iff it is stored); raw events leave it by age.
      local entry_id = append(stream, retention_floor, entry)
      redis.call('ZADD', events, event_time, index_member(entry_id, name_key))
      local fields = {}
      mark(user, marker, v[3], fields)
      -- Aggregates stay for ever: count, first and last event time per event name.
      local t = tonumber(event_time)
      local earliest, latest = v[6], v[7]
      if not earliest or t < tonumber(earliest) then earliest = event_time end
      if not latest or t > tonumber(latest) then latest = event_time end
      fields[#fields + 1] = c
      fields[#fields + 1] = (tonumber(v[5]) or 0) + 1
      fields[#fields + 1] = f
      fields[#fields + 1] = earliest
      fields[#fields + 1] = l
      fields[#fields + 1] = latest
      local oldest = trim_index(events, retention_floor, entry_id, v[8])
      if oldest then
        fields[#fields + 1] = '_o'
        fields[#fields + 1] = oldest
      end
      if new then
        fields[#fields + 1] = '_m'
        fields[#fields + 1] = 1
      end
      result = profile(updated_at, v[2], first + 8, last, fields)
      redis.call('HSET', user, unpack(fields))
    end
    k = k + 6
  else
    local user, aggregates, dedup, users = KEYS[k], KEYS[k + 1], KEYS[k + 2], KEYS[k + 3]
    -- A user already merged may still have old hashes beside (an older replica's write during an upgrade).
    if redis.call('EXISTS', aggregates, dedup) > 0 or not redis.call('HGET', user, '_m') then
      if merge(user, aggregates, dedup) then result = 1 end
    end
    k = k + 4
  end
  out[#out + 1] = result
  a = last + 1
end
return out
