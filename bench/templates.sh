#!/usr/bin/env bash
# Template rendering benchmark: a typical campaign body (13 attributes, an if/elif/else, a loop) rendered on one
# thread by campaigns' Jinja engine and by the Fluid path it replaced, side by side (renders/s, µs and bytes per
# render). Exits 1 if the Jinja engine misses the target. Extra arguments go to the bench:
#   bench/templates.sh --seconds 5 --target 100000
set -euo pipefail
cd "$(dirname "$0")/.."
dotnet build bench/TemplateBench -c Release -nologo -v q >/dev/null || { echo "build of bench/TemplateBench failed" >&2; exit 1; }
# Pinned to one core: the figure is renders per second per core.
pin=(); command -v taskset >/dev/null && pin=(taskset -c 0)
exec "${pin[@]}" env DOTNET_gcServer=0 dotnet bench/TemplateBench/bin/Release/net10.0/TemplateBench.dll "$@"
