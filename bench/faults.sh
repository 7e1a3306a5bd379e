#!/usr/bin/env bash
# Inbound fault suite (issue 9), loopback only, about 40 s: kill -9 ingestion under load, kill -9 and restart Redis
# (AOF) under load, and a bad-input sweep at the edge. Prints acked / stored / lost / duplicated per scenario and
# exits non-zero on any loss or broken rule. One scenario: bench/faults.sh --only kill-redis
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/prerequisites.sh

build_release src/Integration.Ingestion src/Integration.Edge bench/InboundBench
exec dotnet bench/InboundBench/bin/Release/net10.0/InboundBench.dll faults "$@"
