local token_id, record, max_tokens = ARGV[1], ARGV[2], tonumber(ARGV[3])
-- Adds a workspace token unless the workspace has max_tokens already. KEYS[1]: wstok:{ws} (one slot).
if redis.call('HLEN', KEYS[1]) >= max_tokens then return 0 end
return redis.call('HSETNX', KEYS[1], token_id, record)
