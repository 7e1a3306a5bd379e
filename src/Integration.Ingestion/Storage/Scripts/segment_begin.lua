local action, segment, name, page, total, ttl, factor = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6], tonumber(ARGV[7])
local registry, marker = KEYS[1], KEYS[2]
-- Starts one segment-sync request in the workspace's segment registry. Versions order everything that touches a segment:
-- each sync task and each drain gets the next number of the workspace's sequence (a task on its first page), and a
-- page's version is task sequence * factor + page number. marker: the task's hash (sync) or the request's key (drain).
-- Returns {fresh (1) or already applied (0), task sequence (sync) or drain version, the segment's drain version,
-- pages of the task applied so far}.
local drained = tonumber(redis.call('HGET', registry, 'd:' .. segment) or '0')
if action == 'drain' then
  if redis.call('EXISTS', marker) == 1 then return {0, drained, drained, 0} end
  local seq = redis.call('HINCRBY', registry, 'seq', 1)
  local version = string.format('%d', seq * factor)
  redis.call('HSET', registry, 'd:' .. segment, version)
  if name ~= '' then redis.call('HSET', registry, 'n:' .. segment, name) end
  redis.call('SET', marker, '1', 'EX', ttl)
  return {1, version, version, 0}
end
local seq = redis.call('HGET', marker, 'seq')
if not seq then
  seq = redis.call('HINCRBY', registry, 'seq', 1)
  redis.call('HSET', marker, 'seq', seq, 'total', total, 'applied', 0)
  redis.call('EXPIRE', marker, ttl)
end
local applied = tonumber(redis.call('HGET', marker, 'applied') or '0')
if redis.call('HEXISTS', marker, 'p:' .. page) == 1 then return {0, seq, drained, applied} end
-- The name of the newest task wins (a late page of an older task never renames the segment back).
if tonumber(seq) >= tonumber(redis.call('HGET', registry, 'nv:' .. segment) or '0') then
  redis.call('HSET', registry, 'n:' .. segment, name, 'nv:' .. segment, seq)
end
return {1, seq, drained, applied}
