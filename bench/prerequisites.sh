# Sourced by the bench scripts: installs what they need (redis-server, wrk) and builds projects in Release.

install_packages() {
  local missing=()
  command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
  command -v wrk >/dev/null 2>&1 || missing+=(wrk)
  [[ ${#missing[@]} -eq 0 ]] && return 0
  echo "bench: installing ${missing[*]}" >&2
  local sudo_cmd=""; [[ "$(id -u)" -ne 0 ]] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${missing[@]}" >/dev/null
}

# Builds each project in Release; retries once, because a colleague's concurrent build can hold a file.
build_release() {
  local project
  for project in "$@"; do
    dotnet build "$project" -c Release -nologo -v q >/dev/null 2>&1 ||
      { sleep 5; dotnet build "$project" -c Release -nologo -v q >/dev/null; } ||
      { echo "bench: build of $project failed" >&2; return 1; }
  done
}

install_packages
