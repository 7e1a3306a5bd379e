#!/usr/bin/env bash
# What storing a record costs Redis itself: the store's write (write.lua) against the bare commands it needs
# (MULTI/EXEC, no Lua), side by side in one run on a bare redis-server with AOF everysec. Arguments go to the bench:
#   bench/redis-write.sh [--records 140000] [--users 5000] [--per-call 7] [--in-flight 8] [--rounds 2]
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/prerequisites.sh || exit 1

build_release bench/RedisWriteBench || exit 1
dotnet bench/RedisWriteBench/bin/Release/net10.0/RedisWriteBench.dll "$@"
