"""Passes one after another in one process, as `ntd run` makes them: RSS after each.

    python ntd_passes.py PASSES        (settings from NTD_* as for ntd)

Each pass is what the scheduler's check job runs (service.jobs.check): a pass and its
hosting look-ups (`pass_and_hosting`), on one long-lived reactor and one store, with
every report made due again before it. Prints, for each pass, a JSON line with its
checks, its wall and CPU seconds (the process's, every thread), and the process's
resident memory once it ended.
"""

import json
import resource
import sys
import time
from datetime import timedelta

from sqlalchemy import update

import settings as settings_module
from crawler.passes import pass_and_hosting, run_with_reactor
from store.db import open_store_for
from store.models import Report
from store.types import utcnow


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


async def passes(count: int) -> None:
    ntd = settings_module.load()
    store = open_store_for(ntd)
    try:
        for number in range(1, count + 1):
            with store.session() as session:
                session.execute(update(Report).values(next_due_at=utcnow() - timedelta(seconds=1)))
            started, used = time.monotonic(), _cpu()
            seen: dict[str, float] = {}  # when the first check and the latest were made

            def checked(outcome: str, seen=seen) -> None:
                seen.setdefault("first", time.monotonic())
                seen["last"] = time.monotonic()

            tally, _ = await pass_and_hosting(store, ntd, progress=checked, then_all_missing=True)
            ended = time.monotonic()
            line = {
                "pass": number,
                "checks": tally.checks,
                "seconds": round(ended - started, 3),
                "first_check_s": round(seen["first"] - started, 3) if seen else None,
                "after_last_s": round(ended - seen["last"], 3) if seen else None,
                "cpu_s": round(_cpu() - used, 3),
                "rss_mb": round(rss_mb(), 1),
            }
            print(json.dumps(line), flush=True)
    finally:
        store.close()


def main() -> None:
    run_with_reactor(lambda: passes(int(sys.argv[1])))


if __name__ == "__main__":
    main()
