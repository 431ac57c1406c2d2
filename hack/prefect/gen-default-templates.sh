#!/usr/bin/env bash
# Regenerates internal/jobtemplate/defaults/*.json from the pinned Prefect
# packages (hack/prefect/requirements.txt).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
"$here/install.sh"
"$repo/.cache/prefect-venv/bin/python" "$here/gen-default-templates.py" "$repo"
