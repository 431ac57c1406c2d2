"""Writes the default base job templates of the pinned Prefect workers.

Run with the python of hack/prefect/install.sh's virtualenv (see
gen-default-templates.sh). Output, relative to the repository root:
  internal/jobtemplate/defaults/kubernetes.json  KubernetesWorker default
  internal/jobtemplate/defaults/process.json     ProcessWorker default
  internal/jobtemplate/defaults/versions.json    package versions used
"""

import json
import pathlib
import sys
from importlib.metadata import version

from prefect.workers.process import ProcessWorker
from prefect_kubernetes.worker import KubernetesWorker


def dump(obj) -> str:
    return json.dumps(obj, indent=2, sort_keys=True) + "\n"


def main() -> None:
    root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else pathlib.Path(__file__).resolve().parents[2])
    out = root / "internal" / "jobtemplate" / "defaults"
    out.mkdir(parents=True, exist_ok=True)
    files = {
        "kubernetes.json": KubernetesWorker.get_default_base_job_template(),
        "process.json": ProcessWorker.get_default_base_job_template(),
        "versions.json": {
            "prefect": version("prefect"),
            "prefect-kubernetes": version("prefect-kubernetes"),
        },
    }
    for name, obj in files.items():
        (out / name).write_text(dump(obj))
        print(f"wrote {out / name}")


if __name__ == "__main__":
    main()
