#!/usr/bin/env bash
# Installs the pinned Prefect (hack/prefect/requirements.txt) into
# $REPO/.cache/prefect-venv, plus a migrated SQLite database that start.sh
# copies into each fresh server home (saves the migrations on every start).
# A no-op when the stamp matches requirements.txt.
# Safe to run concurrently (parallel test packages): serialised with flock.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
venv="$repo/.cache/prefect-venv"
req="$here/requirements.txt"
stamp="$venv/.requirements.sha256"
python="${PYTHON:-python3}"

if ! command -v "$python" >/dev/null 2>&1; then
  echo "install.sh: $python not found; install Python 3.10+ with venv (apt-get install python3 python3-venv)" >&2
  exit 1
fi

want="$(sha256sum "$req" | cut -d' ' -f1)"
up_to_date() { [[ -x "$venv/bin/prefect" && -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; }

mkdir -p "$repo/.cache"
exec 9>"$repo/.cache/prefect-venv.lock"
flock 9
if up_to_date; then
  echo "prefect venv up to date: $venv"
  exit 0
fi

echo "installing $(grep -E '^[A-Za-z].*==' "$req" | paste -sd' ') into $venv"
rm -rf "$venv"
"$python" -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip >&2
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$req" >&2
(
  unset PREFECT_API_URL PREFECT_PROFILE PREFECT_SERVER_DATABASE_CONNECTION_URL PREFECT_API_DATABASE_CONNECTION_URL
  export PREFECT_HOME="$venv/db-template" PREFECT_PROFILES_PATH="$venv/db-template/profiles.toml"
  mkdir -p "$PREFECT_HOME"
  "$venv/bin/prefect" server database upgrade -y >"$venv/db-template.log" 2>&1 ||
    { cat "$venv/db-template.log" >&2; exit 1; }
)
echo "$want" >"$stamp"
