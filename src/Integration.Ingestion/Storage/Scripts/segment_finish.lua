local page = ARGV[1]
local task = KEYS[1]
-- Marks a page of a sync task applied (after all its users were written) and answers how many of its pages are.
if redis.call('EXISTS', task) == 0 then return 0 end
if redis.call('HSETNX', task, 'p:' .. page, '1') == 1 then redis.call('HINCRBY', task, 'applied', 1) end
return tonumber(redis.call('HGET', task, 'applied'))
