local consumer, ttl_ms = ARGV[1], tonumber(ARGV[2])
local release = ARGV[3] == '1' -- a replica stopping gives every lease back at once
local runners = KEYS[1] -- the workspace's trigger runners: member = consumer, score = when its registration lapses (ms)
local partitions = #KEYS - 1 -- KEYS[2..]: one lease per partition of the workspace's event stream, value = owner

-- Each live runner holds a fair share of the partitions (ceil(partitions / live runners)): it keeps and renews
-- its own, gives back what is above its share (a replica joined; the others take those at their next renewal)
-- and takes free ones up to its share (a replica stopped, or its leases lapsed). Redis's clock decides.
-- Returns the partitions (1-based) the consumer holds now.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local mine = {}
if release then
  redis.call('ZREM', runners, consumer)
  for p = 1, partitions do
    if redis.call('GET', KEYS[p + 1]) == consumer then
      redis.call('DEL', KEYS[p + 1])
    end
  end
  return mine
end
redis.call('ZADD', runners, now + ttl_ms, consumer)
redis.call('ZREMRANGEBYSCORE', runners, '-inf', now)
redis.call('PEXPIRE', runners, ttl_ms * 2)
local share = math.ceil(partitions / redis.call('ZCARD', runners))
local free = {}
for p = 1, partitions do
  local owner = redis.call('GET', KEYS[p + 1])
  if owner == consumer then
    mine[#mine + 1] = p
  elseif not owner then
    free[#free + 1] = p
  end
end
while #mine > share do
  redis.call('DEL', KEYS[table.remove(mine) + 1])
end
for _, p in ipairs(mine) do
  redis.call('PEXPIRE', KEYS[p + 1], ttl_ms)
end
for _, p in ipairs(free) do
  if #mine >= share then
    break
  end
  redis.call('SET', KEYS[p + 1], consumer, 'PX', ttl_ms)
  mine[#mine + 1] = p
end
return mine
