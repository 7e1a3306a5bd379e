#!/usr/bin/env bash
# Every benchmark of the project in one run (issue 9), then one table: inbound throughput (pipeline vs bare Kestrel),
# the rate limiter (bench/ratelimit.sh), the delivery engine (bench/delivery.sh), the event-triggered latency webhook ->
# Heap track call (bench/trigger-latency.sh), template rendering (bench/templates.sh), audience counts (bench/audience.sh), Redis memory per event (bench/storage.sh), Redis CPU per stored record against
# the bare commands (bench/redis-write.sh) and the fault suite (bench/faults.sh:
# the inbound scenarios, then kill-campaigns and heap-faults on the delivery side). Each part's full output is printed
# as it runs. Exits non-zero if any part failed or missed its target.
#   bench/run-all.sh                 # everything, about 7 minutes on 2 cores
#   INBOUND_ARGS="--seconds 30" bench/run-all.sh
set -uo pipefail
cd "$(dirname "$0")/.."
source bench/prerequisites.sh || exit 1

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
status=0

echo "== build (Release)"
build_release src/Integration.Ingestion src/Integration.Edge src/Integration.Campaigns src/Integration.HeapEmulator bench/BareKestrel bench/InboundBench || exit 1
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) cores"

run_part() { # name, command...
  local name=$1; shift
  echo; echo "== $name: $*"
  "$@" 2>&1 | tee "$out/$name.log"
  local rc=${PIPESTATUS[0]}
  echo "$rc" >"$out/$name.rc"
  [[ $rc -eq 0 ]] || status=1
}

# shellcheck disable=SC2086
run_part inbound dotnet bench/InboundBench/bin/Release/net10.0/InboundBench.dll throughput --results "$out/inbound.results" ${INBOUND_ARGS:-}
[[ -x bench/ratelimit.sh ]] && run_part ratelimit bench/ratelimit.sh
[[ -x bench/delivery.sh ]] && run_part delivery bench/delivery.sh
[[ -x bench/trigger-latency.sh ]] && run_part trigger bench/trigger-latency.sh
[[ -x bench/templates.sh ]] && run_part templates bench/templates.sh
[[ -x bench/audience.sh ]] && run_part audience bench/audience.sh
[[ -x bench/storage.sh ]] && run_part storage bench/storage.sh
[[ -x bench/redis-write.sh ]] && run_part redis-write bench/redis-write.sh
run_part faults dotnet bench/InboundBench/bin/Release/net10.0/InboundBench.dll faults --results "$out/faults.results"

verdict() { [[ -f "$out/$1.rc" ]] && { [[ $(cat "$out/$1.rc") == 0 ]] && echo "ok" || echo "FAILED/MISSED"; } || echo "not run"; }

echo
echo "================================================================================================================"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-26s %9s %8s %8s %8s %7s  %s\n' "inbound (wrk)" "req/s" "p50 ms" "p90 ms" "p99 ms" "errors" "peak RSS"
if [[ -f "$out/inbound.results" ]]; then
  while IFS='|' read -r kind name rps p50 p90 p99 errors rss; do
    if [[ $kind == inbound ]]; then
      printf '%-26s %9s %8s %8s %8s %7s  %s\n' "  $name" "$rps" "$p50" "$p90" "$p99" "$errors" "$rss"
    elif [[ $kind == ratio ]]; then
      printf '%-26s %9s  (target >= 0.30, p99 < 20 ms, every service <= 300 MB): %s\n' "  pipeline / bare" "$name" "$(verdict inbound)"
    fi
  done <"$out/inbound.results"
fi
echo
echo "rate limiter (bench/ratelimit.sh): $(verdict ratelimit)"
[[ -f "$out/ratelimit.log" ]] && grep -E '^(accepted, steady|limiter \(EVALSHA\)|target )' "$out/ratelimit.log" | sed 's/^/  /'
echo "delivery engine (bench/delivery.sh): $(verdict delivery)"
[[ -f "$out/delivery.log" ]] && grep -E '^(enqueue|engine|[a-z].*: .*p50)' "$out/delivery.log" | grep -v '^delivery bench' | sed 's/^/  /'
echo "event-triggered latency (bench/trigger-latency.sh, target p99 < 1 s): $(verdict trigger)"
[[ -f "$out/trigger.log" ]] && grep -E '^(trigger latency \(|triggered sends)' "$out/trigger.log" | sed 's/^/  /'
echo "template rendering (bench/templates.sh, one core, target >= 100,000 renders/s): $(verdict templates)"
[[ -f "$out/templates.log" ]] && grep -E '^(jinja|fluid|body:)' "$out/templates.log" | sed 's/^/  /'
echo "audience count (bench/audience.sh, 200,000 users, target >= 100,000 users/s): $(verdict audience)"
[[ -f "$out/audience.log" ]] && grep -E '^audience count:' "$out/audience.log" | sed 's/^/  /'
echo "storage (bench/storage.sh, 100,000 events of 5,000 users, target <= 250 B of Redis memory per event): $(verdict storage)"
[[ -f "$out/storage.log" ]] && grep -E '^(memory|verdict) ' "$out/storage.log" | sed 's/^/  /'
echo "Redis CPU per stored record (bench/redis-write.sh, bare redis-server, the store's write vs the commands alone): $(verdict redis-write)"
[[ -f "$out/redis-write.log" ]] && grep -E '^redis cpu per record' "$out/redis-write.log" | sed 's/^/  /'
echo
printf '%-26s %6s %8s %8s %6s %11s\n' "fault suite" "result" "acked" "stored" "lost" "duplicated"
if [[ -f "$out/faults.results" ]]; then
  while IFS='|' read -r _ name result acked stored lost duplicated; do
    printf '%-26s %6s %8s %8s %6s %11s\n' "  $name" "$result" "$acked" "$stored" "$lost" "$duplicated"
  done <"$out/faults.results"
fi
echo "================================================================================================================"
exit $status
