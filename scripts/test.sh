#!/usr/bin/env bash
# Runs every test (the README's second command). Installs what the tests need first: redis-server,
# which the tests start themselves on free loopback ports.
set -euo pipefail
cd "$(dirname "$0")/.."

# redis-cli (Debian: redis-tools, a dependency of redis-server) joins the Redis Cluster tests' nodes. The
# campaigns' time-zone rules read the IANA time-zone database (Debian: tzdata), which a minimal Debian may lack.
packages=()
if ! command -v redis-server >/dev/null 2>&1 || ! command -v redis-cli >/dev/null 2>&1; then
  packages+=(redis-server redis-tools)
fi
[ -e /usr/share/zoneinfo/America/New_York ] || packages+=(tzdata)
if [ ${#packages[@]} -gt 0 ]; then
  echo "test.sh: installing ${packages[*]} (the tests start real Redis servers and a Redis Cluster, and use real time zones)" >&2
  sudo_cmd=""; [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${packages[@]}" >/dev/null
fi

# redis-servers left behind by an earlier run whose test host was killed: the tests run each in a folder of its
# own under the temporary directory (integration-*), and once its test host is gone init (pid 1) is its parent.
# Only those are ended; a run in progress elsewhere on the machine owns its servers and is left alone.
tmp_root=$(cd "${TMPDIR:-/tmp}" && pwd -P)
for proc in /proc/[0-9]*; do
  [ "$(cat "$proc/comm" 2>/dev/null)" = redis-server ] || continue
  [ "$(awk '/^PPid:/ { print $2 }' "$proc/status" 2>/dev/null)" = 1 ] || continue
  case "$(readlink "$proc/cwd" 2>/dev/null)" in
    "$tmp_root"/integration-*) echo "test.sh: ending redis-server ${proc#/proc/}, left by an earlier test run" >&2; kill "${proc#/proc/}" 2>/dev/null || true ;;
  esac
done

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
