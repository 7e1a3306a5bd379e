local event_ms, window_ms = tonumber(ARGV[1]), tonumber(ARGV[2])
local counter = ARGV[3] -- the stats field conversions are counted in
local deliveries = KEYS[1] -- one user's successful deliveries of one campaign: member = delivery id, score = when it succeeded (ms)
local stats = KEYS[2] -- the campaign's delivery counters

-- A goal event converts every delivery that succeeded at or before the event's time and at most the window
-- before it; a converted delivery leaves the set, so it converts once (a redelivered stream entry counts nothing).
-- An event dated before a delivery (backfilled) never reaches it.
local hits = redis.call('ZRANGEBYSCORE', deliveries, event_ms - window_ms, event_ms)
if #hits == 0 then
  return 0
end
redis.call('ZREM', deliveries, unpack(hits))
redis.call('HINCRBY', stats, counter, #hits)
return #hits
