#!/usr/bin/env bash
# Runs the whole system (the README's first command). Installs redis-server first when neither it
# nor a healthy container runtime is there, then starts the AppHost on its http launch profile.
set -euo pipefail
cd "$(dirname "$0")/.."

container_runtime_healthy() {
  for rt in ${ASPIRE_CONTAINER_RUNTIME:-docker podman}; do
    command -v "$rt" >/dev/null 2>&1 && timeout 5 "$rt" info >/dev/null 2>&1 && return 0
  done
  return 1
}

if [ -z "${ConnectionStrings__redis:-}" ] && ! command -v redis-server >/dev/null 2>&1 && ! container_runtime_healthy; then
  echo "run.sh: no container runtime and no redis-server; installing redis-server with apt-get" >&2
  sudo_cmd=""; [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq redis-server >/dev/null
fi

exec dotnet run --project Integration.AppHost --launch-profile http "$@"
