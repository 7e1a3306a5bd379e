#!/usr/bin/env bash
# Runs every test (the README's second command). Installs what the tests need first: redis-server,
# which the tests start themselves on free loopback ports.
set -euo pipefail
cd "$(dirname "$0")/.."

# redis-cli (Debian: redis-tools, a dependency of redis-server) joins the Redis Cluster tests' nodes.
if ! command -v redis-server >/dev/null 2>&1 || ! command -v redis-cli >/dev/null 2>&1; then
  echo "test.sh: installing redis-server and redis-tools (the tests start real Redis servers and a Redis Cluster)" >&2
  sudo_cmd=""; [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq redis-server redis-tools >/dev/null
fi

log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
# Build in parallel, then run the test assemblies one after another: several suites start real Redis
# servers, Kestrel hosts and whole systems, and on a 2-core machine running them side by side only adds
# scheduling noise to the timing assertions.
{ dotnet build Integration.sln && dotnet test Integration.sln --no-build -m:1 "$@"; } 2>&1 | tee "$log" || status=$?

# One closing line for the whole suite, summed over the test assemblies.
awk '/(Passed|Failed)! +- +Failed:/ {
       gsub(",", ""); for (i = 1; i <= NF; i++) { if ($i == "Failed:") f += $(i+1); if ($i == "Passed:") p += $(i+1); if ($i == "Skipped:") s += $(i+1) }
     }
     END { printf "tests: %d passed, %d failed, %d skipped\n", p, f, s }' "$log"
exit $status
