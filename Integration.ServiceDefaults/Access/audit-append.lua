local actor, action, target, outcome, max_entries, retention_ms = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], tonumber(ARGV[6])
-- Appends one audit entry and trims the log to its bounds (count and age, by Redis's clock, which also stamps
-- the entry ids). KEYS[1]: audit:{ws} (one slot).
local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', max_entries, '*',
  'actor', actor, 'action', action, 'target', target, 'outcome', outcome)
local now = redis.call('TIME')
local min_id = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000) - retention_ms
redis.call('XTRIM', KEYS[1], 'MINID', '~', string.format('%d', min_id))
return id
