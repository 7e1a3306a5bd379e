local config_name, workspace, take_over_from = ARGV[1], ARGV[2], ARGV[3]
local claims = KEYS[1]
-- Claims a free name, keeps the workspace's own claim, and replaces another workspace's only if it is still the one the
-- caller found dead (its config no longer has a secret), so two workspaces racing for a name cannot both win.
local owner = redis.call('HGET', claims, config_name)
if owner and owner ~= workspace and owner ~= take_over_from then return 0 end
redis.call('HSET', claims, config_name, workspace)
return 1
