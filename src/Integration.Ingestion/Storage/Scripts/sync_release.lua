local config_name, workspace = ARGV[1], ARGV[2]
local claims = KEYS[1]
-- Releases the claim only while it is still this workspace's.
if redis.call('HGET', claims, config_name) == workspace then redis.call('HDEL', claims, config_name) end
return 1
