#!/usr/bin/env bash
# Benchmarks the edge's per-workspace rate limiter against a real Redis (issue 4): one workspace driven at twice
# its limit for 12 s; prints the accepted rate per second, its error against the limit, and the limiter's latency
# next to a PING baseline. Arguments go to the benchmark (--help); REDIS=host:port uses an existing Redis.
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ -z "${REDIS:-}" ]] && ! command -v redis-server >/dev/null 2>&1; then
  echo "redis-server is not installed: apt-get install -y redis-server, or set REDIS=host:port" >&2
  exit 1
fi

dotnet build bench/RateLimitBench -c Release --nologo -v quiet
exec dotnet bench/RateLimitBench/bin/Release/net10.0/RateLimitBench.dll "$@"
