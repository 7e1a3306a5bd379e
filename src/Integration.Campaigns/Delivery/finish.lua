local mode, delivery_id, entry_id, now_ms = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local attempts, history, next_due_ms = ARGV[5], ARGV[6], ARGV[7]
local last_status, last_error, last_excerpt, reason = ARGV[8], ARGV[9], ARGV[10], ARGV[11]
local retention_s, log_entry, log_length, last_request = ARGV[12], ARGV[13], tonumber(ARGV[14]), ARGV[15]
local conversion_window_ms, max_conversion_deliveries = tonumber(ARGV[16]), tonumber(ARGV[17])
local first_counter = 18 -- ARGV[18..]: the counters to increment
local record, stream, due, dead_all, dead_campaign, stats, log = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7]
local conversions = KEYS[8] -- the user's deliveries of the campaign a goal event can convert (conversion goals)

-- The outcome and the acknowledgement are one step: a runner that dies before it leaves the entry
-- pending (another runner claims it); one that dies after leaves nothing to redo.
redis.call('XACK', stream, 'runners', entry_id)
redis.call('XDEL', stream, entry_id)
if redis.call('HGET', record, 'state') ~= 'queued' then
  return 0
end
-- One HSET of the record whatever the outcome (this runs once per delivery).
local fields = {'attempts', attempts, 'last_status', last_status, 'last_error', last_error}
if history ~= '' then
  fields[#fields + 1] = 'history'
  fields[#fields + 1] = history
end
local function set_record(...)
  for _, v in ipairs({...}) do fields[#fields + 1] = v end
  redis.call('HSET', record, unpack(fields))
end
if mode == 'succeeded' then
  set_record('state', 'succeeded')
  redis.call('EXPIRE', record, retention_s)
  if conversion_window_ms > 0 then
    -- Kept for the attribution window, newest first, a bounded number per user and campaign.
    redis.call('ZADD', conversions, now_ms, delivery_id)
    redis.call('ZREMRANGEBYSCORE', conversions, '-inf', '(' .. (tonumber(now_ms) - conversion_window_ms))
    redis.call('ZREMRANGEBYRANK', conversions, 0, -(max_conversion_deliveries + 1))
    redis.call('PEXPIRE', conversions, conversion_window_ms)
  end
elseif mode == 'dead' then
  set_record('state', 'dead', 'dead_ms', now_ms, 'reason', reason, 'last_excerpt', last_excerpt, 'last_request', last_request)
  redis.call('ZADD', dead_all, now_ms, delivery_id)
  redis.call('ZADD', dead_campaign, now_ms, delivery_id)
else
  set_record('state', 'scheduled')
  redis.call('ZADD', due, next_due_ms, delivery_id)
end
for i = first_counter, #ARGV do
  redis.call('HINCRBY', stats, ARGV[i], 1)
end
if log_entry ~= '' then
  redis.call('LPUSH', log, log_entry)
  redis.call('LTRIM', log, 0, log_length - 1)
end
return 1
