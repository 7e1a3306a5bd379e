#!/usr/bin/env bash
# Redis memory per stored event (issue 14): realistic Heap event webhooks (6-8 attributes, 10-20 events a user, six
# event names) through the real edge -> gRPC -> ingestion -> a fresh redis-server, each from its Release build; prints
# used_memory after every webhook was acknowledged minus before, per event and per user, MEMORY USAGE per key kind, and a
# verdict against <= 250 B per event. Exits non-zero when missed.
#   bench/storage.sh --events 100000 --users 5000 [--concurrency 32]
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ ${1:-} == -h || ${1:-} == --help ]]; then sed -n '2,6p' "$0" | sed 's/^# \{0,1\}//'; exit 0; fi
source bench/prerequisites.sh

build_release src/Integration.Ingestion src/Integration.Edge bench/InboundBench
exec dotnet bench/InboundBench/bin/Release/net10.0/InboundBench.dll storage "$@"
