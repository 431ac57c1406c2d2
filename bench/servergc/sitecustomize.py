"""Logs the Prefect server's slow garbage collections.

Python imports sitecustomize at start when it is on PYTHONPATH, so

    PYTHONPATH=bench/servergc SERVERGC_LOG=/tmp/gc.log prefect server start ...

writes one line per full (generation 2) collection, and per younger one
that took over 20 ms: wall-clock time, generation, duration, objects freed.
BENCHMARKS.md ("Where the Prefect server's time goes") uses it.
"""

import gc
import os
import time

_log = open(os.environ.get("SERVERGC_LOG", "servergc.log"), "a", buffering=1)
_started = {}


def _callback(phase, info):
    gen = info["generation"]
    if phase == "start":
        _started[gen] = time.perf_counter()
        return
    took = time.perf_counter() - _started.pop(gen, time.perf_counter())
    if gen == 2 or took > 0.02:
        _log.write("%.3f gen%d %.1f ms freed=%d\n" % (time.time(), gen, took * 1000, info["collected"]))


gc.callbacks.append(_callback)
