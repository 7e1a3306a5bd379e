local now_ms, keep_ms = tonumber(ARGV[1]), tonumber(ARGV[2])
local hour_ms, hour_limit = tonumber(ARGV[3]), tonumber(ARGV[4])
local day_ms, day_limit = tonumber(ARGV[5]), tonumber(ARGV[6])
local week_ms, week_limit = tonumber(ARGV[7]), tonumber(ARGV[8])
local first_send = 9 -- ARGV[9..]: the ids of the sends to reserve together (delivery ids)
local log = KEYS[1] -- one user's sends: member = send id, score = send time (ms)

-- Reserves all the sends in the user's rolling log, or none of them (1: reserved, 0: over a limit).
redis.call('ZREMRANGEBYSCORE', log, '-inf', '(' .. (now_ms - keep_ms))
if redis.call('ZSCORE', log, ARGV[first_send]) then
  return 1 -- a repeat of sends already reserved (a redelivered trigger or a repeated run) counts once
end
local wanted = #ARGV - first_send + 1
local function over(window_ms, limit)
  return limit > 0 and redis.call('ZCOUNT', log, '(' .. (now_ms - window_ms), '+inf') + wanted > limit
end
if over(hour_ms, hour_limit) or over(day_ms, day_limit) or over(week_ms, week_limit) then
  return 0
end
for i = first_send, #ARGV do
  redis.call('ZADD', log, now_ms, ARGV[i])
end
redis.call('PEXPIRE', log, keep_ms)
return 1
