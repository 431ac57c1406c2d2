"""Read every work pool and its queues with Prefect's own async client.

The baseline `make bench` compares `prefect-apply diff` with: what a user
writes today to get the same live state in one script. Pools are paged
with read_work_pools (the server returns at most 200 per call, so a bare
read_work_pools() silently stops at 200 pools); then, per pool, its queues:

  --queues per-pool  read_work_queues(work_pool_name=...) for every pool,
                     all at once with asyncio.gather (the default: what
                     "for each pool, list its queues" becomes with an
                     async client)
  --queues filter    read_work_queues() without a pool, paged: the filter
                     call the client offers for all queues at once

Prints what it read and, on stderr, the requests it sent in the form of
prefect-apply's --stats (counted with an httpx event hook). Exits 1 when
--expect-pools/--expect-queues do not match what was read.

  PREFECT_API_URL=http://127.0.0.1:4200/api python bench/read_async.py --queues per-pool
"""

import argparse
import asyncio
import collections
import sys

from prefect.client.orchestration import get_client

PAGE = 200  # the server's maximum limit (PREFECT_SERVER_API_DEFAULT_LIMIT)


async def read_pools(client):
    pools = []
    while True:
        page = await client.read_work_pools(limit=PAGE, offset=len(pools))
        pools.extend(page)
        if len(page) < PAGE:
            return pools


async def queues_per_pool(client, pools):
    lists = await asyncio.gather(
        *(client.read_work_queues(work_pool_name=p.name) for p in pools)
    )
    return {p.name: qs for p, qs in zip(pools, lists)}


async def queues_filter(client, pools):
    queues, offset = [], 0
    while True:
        page = await client.read_work_queues(limit=PAGE, offset=offset)
        queues.extend(page)
        offset += len(page)
        if len(page) < PAGE:
            break
    by_pool = {p.name: [] for p in pools}
    for q in queues:
        if q.work_pool_name in by_pool:
            by_pool[q.work_pool_name].append(q)
    return by_pool


async def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--queues", choices=["per-pool", "filter"], default="per-pool")
    ap.add_argument("--expect-pools", type=int)
    ap.add_argument("--expect-queues", type=int)
    args = ap.parse_args()

    counts = collections.Counter()

    async def count(request):
        counts[f"{request.method} {request.url.path}"] += 1

    async with get_client(httpx_settings={"event_hooks": {"request": [count]}}) as client:
        pools = await read_pools(client)
        read = queues_per_pool if args.queues == "per-pool" else queues_filter
        queues = await read(client, pools)

    n_queues = sum(len(qs) for qs in queues.values())
    for p in sorted(pools, key=lambda p: p.name):
        names = ", ".join(f"{q.name}({q.priority})" for q in sorted(queues[p.name], key=lambda q: q.priority))
        print(f"{p.name}\t{p.type}\t{len(p.base_job_template or {})} template keys\t{names}")
    print(f"{len(pools)} pools, {n_queues} queues")

    # Per-pool paths collapse to one route, as prefect-apply counts them.
    routes = collections.Counter()
    for path, n in counts.items():
        method, _, url = path.partition(" ")
        parts = url.split("/")
        if "work_pools" in parts:
            i = parts.index("work_pools")
            if len(parts) > i + 1 and parts[i + 1] not in ("", "filter"):
                parts[i + 1] = "{name}"
        routes[f"{method} {'/'.join(parts).removeprefix('/api/')}"] += n
    print(f"requests to Prefect: {sum(routes.values())}", file=sys.stderr)
    for route in sorted(routes):
        print(f"  {route:<44} {routes[route]}", file=sys.stderr)

    bad = []
    if args.expect_pools is not None and len(pools) != args.expect_pools:
        bad.append(f"read {len(pools)} pools, expected {args.expect_pools}")
    if args.expect_queues is not None and n_queues != args.expect_queues:
        bad.append(f"read {n_queues} queues, expected {args.expect_queues}")
    if bad:
        print("read_async.py: " + "; ".join(bad), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
