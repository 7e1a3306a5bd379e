#!/usr/bin/env bash
# Inbound throughput (issue 9): the same wrk load (realistic Heap webhooks over 200 workspaces) against a bare Kestrel
# endpoint (this machine's ceiling) and against edge → gRPC → ingestion → Redis (AOF everysec), each a separate
# process from its Release build. Extra arguments go to the bench, e.g.
#   bench/inbound.sh --seconds 15 --warmup 15 --threads 2 --connections 64 --workspaces 200
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/prerequisites.sh

build_release src/Integration.Ingestion src/Integration.Edge bench/BareKestrel bench/InboundBench
exec dotnet bench/InboundBench/bin/Release/net10.0/InboundBench.dll throughput "$@"
