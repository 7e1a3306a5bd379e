#!/usr/bin/env bash
# Delivery engine benchmark: starts redis-server (AOF everysec) and the Heap emulator (limits off) on free
# ports, runs bench/DeliveryBench (Release), then stops both. Extra arguments go to the bench, e.g.
#   bench/delivery.sh --count 50000 --rate 1000 --seconds 10 --concurrency 128
set -euo pipefail
cd "$(dirname "$0")/.."

command -v redis-server >/dev/null || { echo "redis-server is not installed (apt-get install -y redis-server)" >&2; exit 1; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

for project in bench/DeliveryBench src/Integration.HeapEmulator; do
  dotnet build -c Release -v q -nologo "$project" >/dev/null || { echo "build of $project failed" >&2; exit 1; }
done

REDIS_PORT=$(free_port)
HEAP_PORT=$(free_port)
DATA=$(mktemp -d)
cleanup() {
  [[ -n "${HEAP_PID:-}" ]] && kill "$HEAP_PID" 2>/dev/null || true
  [[ -n "${REDIS_PID:-}" ]] && kill "$REDIS_PID" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$DATA"
}
trap cleanup EXIT

redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --dir "$DATA" --save "" --appendonly yes --appendfsync everysec \
  --protected-mode no >"$DATA/redis.log" 2>&1 &
REDIS_PID=$!

dotnet src/Integration.HeapEmulator/bin/Release/net10.0/Integration.HeapEmulator.dll \
  --environment Production \
  --Kestrel:Endpoints:http:Url="http://127.0.0.1:$HEAP_PORT" \
  --HeapEmulator:EnforceLimits=false --HeapEmulator:Apps:0=heap-demo-app \
  --HeapEmulator:MaxRecordedEvents=1000000 --HeapEmulator:MaxIdempotencyKeys=1000000 \
  --Logging:LogLevel:Default=Warning >"$DATA/heap.log" 2>&1 &
HEAP_PID=$!

for _ in $(seq 1 100); do
  curl -sf --max-time 1 "http://127.0.0.1:$HEAP_PORT/health" >/dev/null && redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break
  sleep 0.2
done

dotnet bench/DeliveryBench/bin/Release/net10.0/DeliveryBench.dll \
  --redis "127.0.0.1:$REDIS_PORT" --emulator "http://127.0.0.1:$HEAP_PORT" "$@"
