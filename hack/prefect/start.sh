#!/usr/bin/env bash
# Starts a throwaway Prefect server on 127.0.0.1 with a fresh PREFECT_HOME
# (SQLite) and waits until GET /api/health answers true.
# Usage: start.sh [--auth user:pass]
# On success prints shell-evaluable lines:
#   PREFECT_API_URL=... PREFECT_SERVER_PID=... PREFECT_SERVER_HOME=...
# Stop it with stop.sh "$PREFECT_SERVER_PID" "$PREFECT_SERVER_HOME".
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
venv="$repo/.cache/prefect-venv"
timeout="${PREFECT_START_TIMEOUT:-120}"

auth=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --auth) auth="${2:?--auth needs user:pass}"; shift 2 ;;
    --auth=*) auth="${1#--auth=}"; shift ;;
    *) echo "start.sh: unknown argument: $1" >&2; exit 2 ;;
  esac
done

if [[ ! -x "$venv/bin/prefect" ]]; then
  echo "start.sh: $venv/bin/prefect missing; run hack/prefect/install.sh first" >&2
  exit 1
fi
py="$venv/bin/python"

port="$("$py" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')"
home="$(mktemp -d "${TMPDIR:-/tmp}/prefect-home.XXXXXX")"
log="$home/server.log"
# A database already migrated by install.sh, if there is one.
if [[ -f "$venv/db-template/prefect.db" ]]; then
  cp "$venv/db-template/prefect.db" "$home/prefect.db"
fi

# Keep the caller's Prefect settings out of the throwaway server.
unset PREFECT_API_URL PREFECT_API_KEY PREFECT_PROFILE PREFECT_SERVER_DATABASE_CONNECTION_URL \
  PREFECT_API_DATABASE_CONNECTION_URL
export PREFECT_HOME="$home" PREFECT_PROFILES_PATH="$home/profiles.toml"
export PREFECT_SERVER_ANALYTICS_ENABLED=false PREFECT_SERVER_UI_ENABLED=false
if [[ -n "$auth" ]]; then
  export PREFECT_SERVER_API_AUTH_STRING="$auth" PREFECT_API_AUTH_STRING="$auth"
else
  unset PREFECT_SERVER_API_AUTH_STRING PREFECT_API_AUTH_STRING
fi

# setsid: the server and its children form their own process group (pgid ==
# pid), so stop.sh can signal them all. Output goes to the log only, so the
# caller's stdout/stderr pipes are not held open.
setsid "$venv/bin/prefect" server start --host 127.0.0.1 --port "$port" --no-services --no-ui \
  </dev/null >"$log" 2>&1 &
pid=$!

url="http://127.0.0.1:$port/api"
if ! "$py" - "$url/health" "$pid" "$timeout" <<'PY'
import os, sys, time, urllib.request
url, pid, deadline = sys.argv[1], int(sys.argv[2]), time.monotonic() + float(sys.argv[3])
while time.monotonic() < deadline:
    try:
        os.kill(pid, 0)
    except OSError:
        sys.exit("server process exited")
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            if r.read().strip() == b"true":
                sys.exit(0)
    except OSError:
        pass
    time.sleep(0.2)
sys.exit("timed out waiting for " + url)
PY
then
  echo "start.sh: Prefect server did not become healthy; last lines of $log:" >&2
  tail -n 40 "$log" >&2 || true
  "$here/stop.sh" "$pid" "$home" >&2 || true
  exit 1
fi

echo "PREFECT_API_URL=$url"
echo "PREFECT_SERVER_PID=$pid"
echo "PREFECT_SERVER_HOME=$home"
