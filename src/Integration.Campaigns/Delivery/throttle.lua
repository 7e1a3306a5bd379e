local limit, window, cost, member = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4]
local unit = ARGV[5] == '1' -- every request of this budget costs 1 (single track calls, destinations): count, not sum
local log = KEYS[1] -- one budget's admitted requests: member = request id .. ':' .. cost, score = admission time (ms)

-- Takes cost from the budget if the last window (on Redis's clock) has room: 0, else how many ms until it has.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', log, '-inf', now - window)
local function admit()
  redis.call('ZADD', log, now, member .. ':' .. cost)
  redis.call('PEXPIRE', log, window)
  return 0
end
if unit then
  -- The log is the count: no member to read unless the budget is full, then only the one whose expiry frees a place.
  local total = redis.call('ZCARD', log)
  if total + 1 <= limit or total == 0 then
    return admit()
  end
  local freeing = redis.call('ZRANGE', log, total - limit, total - limit, 'WITHSCORES')
  return tonumber(freeing[2]) + window - now + 1
end
local function cost_of(m) return tonumber(string.match(m, ':(%d+)$')) or 1 end
-- Recounted from the log each time (it holds at most one window of requests): no total to drift.
local total = 0
local entries = redis.call('ZRANGE', log, 0, -1, 'WITHSCORES')
for i = 1, #entries, 2 do total = total + cost_of(entries[i]) end
if total + cost <= limit or total == 0 then
  return admit()
end
local freed = 0
for i = 1, #entries, 2 do
  freed = freed + cost_of(entries[i])
  if total - freed + cost <= limit then
    return tonumber(entries[i + 1]) + window - now + 1
  end
end
return window
