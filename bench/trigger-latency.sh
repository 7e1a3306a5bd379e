#!/usr/bin/env bash
# Event-triggered latency of the whole pipeline: starts redis-server (AOF everysec), ingestion, edge, campaigns and
# the Heap emulator (limits off) as Release processes on loopback, creates an event-triggered campaign (no delay)
# that POSTs to the emulator's /api/track, sends event webhooks at a steady rate and prints, per webhook, the time
# from the edge's 200 to the emulator's received_at of the track call it triggered: p50/p90/p99/max, matched vs sent.
# Also prints CPU per trigger of each process and Redis's calls and time per trigger by command (INFO commandstats).
# Users default to max(500, 2 x rate), so no user exceeds Heap's 30 track calls per 30 s (the delivery engine's
# throttle would hold the excess back). --replicas N starts N campaigns processes sharing the trigger work.
# Exits 1 if a triggered send is missing or p99 >= 1 s. Extra arguments go to the bench, e.g.
#   bench/trigger-latency.sh --rate 100 --seconds 15 --warmup 5 [--users 500] [--replicas 2] [--poll-interval-ms 500]
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/prerequisites.sh || exit 1

build_release src/Integration.Ingestion src/Integration.Edge src/Integration.Campaigns src/Integration.HeapEmulator bench/TriggerLatency || exit 1
dotnet bench/TriggerLatency/bin/Release/net10.0/TriggerLatency.dll "$@"
