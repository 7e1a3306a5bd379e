#!/usr/bin/env bash
# Fault suite (issue 9), loopback only, about 2 minutes. Inbound: kill -9 ingestion under load, kill -9 and restart
# Redis (AOF) under load, a bad-input sweep at the edge. Campaign side: kill -9 campaigns with deliveries pending
# (kill-campaigns, ~40 s), 429 + Retry-After and 500s at the Heap emulator (heap-faults, ~20 s), internal
# destinations, redirects, secrets at rest and foreign tokens against campaigns (outbound, ~5 s). Prints acked / stored /
# lost / duplicated per scenario and exits non-zero on any loss or broken rule. One scenario: bench/faults.sh --only kill-redis
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/prerequisites.sh

build_release src/Integration.Ingestion src/Integration.Edge src/Integration.Campaigns src/Integration.HeapEmulator bench/InboundBench
exec dotnet bench/InboundBench/bin/Release/net10.0/InboundBench.dll faults "$@"
