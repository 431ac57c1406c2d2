#!/usr/bin/env bash
# Stops a server started by start.sh (TERM, then KILL after a timeout) and
# removes its temporary PREFECT_HOME.
# Usage: stop.sh PID [HOME]
set -euo pipefail

pid="${1:?usage: stop.sh PID [HOME]}"
home="${2:-}"
timeout="${PREFECT_STOP_TIMEOUT:-10}"

# start.sh makes the server a process group leader; signal the whole group.
signal() { kill "-$1" -- "-$pid" 2>/dev/null || kill "-$1" "$pid" 2>/dev/null || true; }
alive() { kill -0 -- "-$pid" 2>/dev/null || kill -0 "$pid" 2>/dev/null; }

signal TERM
for ((i = 0; i < timeout * 10; i++)); do
  alive || break
  sleep 0.1
done
if alive; then
  signal KILL
fi

case "$home" in
  "") ;;
  */prefect-home.*) rm -rf -- "$home" ;;
  *) echo "stop.sh: not removing $home (not a start.sh home)" >&2 ;;
esac
