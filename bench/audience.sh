#!/usr/bin/env bash
# Audiences at scale (issue 14): stores 200,000 users through ingestion's Ingest batch RPC (Release build, fresh
# redis-server), then counts a segment with an event filter (did Purchased >= 2 times in the last 30 days AND
# country = US) through the Segments gRPC API and prints users evaluated per second; target >= 100,000/s. Exits 1
# when missed or the count is wrong. Named arguments go to the bench:
#   bench/audience.sh [--users 200000] [--runs 3] [--batch 1000] [--concurrency 4] [--goal 100000]
# Run it under the shared lock: flock /work/wt/bench.lock bench/audience.sh
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/prerequisites.sh || exit 1

build_release src/Integration.Ingestion bench/AudienceBench || exit 1
dotnet bench/AudienceBench/bin/Release/net10.0/AudienceBench.dll "$@"
