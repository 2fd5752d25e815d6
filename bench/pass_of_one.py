"""A pass of one report inside one process, as `ntd run` makes one when woken for it.

    .venv/bin/python bench/pass_of_one.py [--passes N] [--store sqlite|postgresql]

One report on a site of the simulated internet (web, DNS with Team Cymru records, RDAP),
checked again and again on one long-lived reactor and store: the pass alone
(`crawler.passes.run_pass`), then the pass with its hosting (`pass_and_hosting`, what the
scheduler's check job runs), each beside one bare aiohttp GET of the same page, hashed,
timed in the same process: what a pass costs above the fetch itself. The first pass with
hosting is shown apart: it makes the RDAP and DNS look-ups, which later ones find cached.
PostgreSQL is the one TEST_POSTGRES_URL names (a schema of its own, dropped after).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import create_engine, text, update  # noqa: E402

import settings as settings_module  # noqa: E402
from crawler.passes import pass_and_hosting, run_pass, run_with_reactor  # noqa: E402
from intake.submissions import Submission, validate  # noqa: E402
from simnet import Internet  # noqa: E402
from simnet.cymru import announce  # noqa: E402
from simnet.rdap import contact  # noqa: E402
from store import reports  # noqa: E402
from store.db import open_store_for  # noqa: E402
from store.models import Report  # noqa: E402
from store.types import utcnow  # noqa: E402

POSTGRES = os.environ.get(
    "TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/ntd_test"
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--passes", type=int, default=20)
    parser.add_argument("--store", choices=["sqlite", "postgresql"], default="sqlite")
    args = parser.parse_args()
    with Internet() as net, tempfile.TemporaryDirectory() as tmp:
        rdap = net.start_rdap()
        net.dns.a("probe.test", "127.10.255.254")
        site = net.site("shop.test", "127.10.1.1")
        announce(net.dns, site.address, 64500, "127.10.1.0/24")
        rdap.network("127.10.1.0/24", entities=[contact("AB", ["abuse"], email="abuse@h.test")])
        site.page("/one.jpg")
        url = site.url("/one.jpg")
        schema = f"bench_{os.getpid()}_{int(time.time())}"
        database = (
            f"sqlite:///{tmp}/ntd.sqlite3"
            if args.store == "sqlite"
            else f"{POSTGRES}?options=-csearch_path%3D{schema}"
        )
        if args.store == "postgresql":
            _schema(f"CREATE SCHEMA {schema}")
        try:
            ntd = settings_module.load(
                {},
                database_url=database,
                dns_nameservers=net.nameservers[0],
                rdap_url=rdap.url,
                allowed_private_networks="127.10.0.0/16",
                outage_probe_name="probe.test",
            )
            figures = run_with_reactor(lambda: _passes(ntd, url, site.address, args.passes))
        finally:
            if args.store == "postgresql":
                _schema(f"DROP SCHEMA {schema} CASCADE")
    first, alone, hosted, fetches = figures
    print(f"a pass of one report, {args.store}, {args.passes} of each, in one process:")
    print(f"  first pass with hosting (RDAP and DNS look-ups): {first * 1000:.0f} ms")
    for name, seconds in (("pass alone", alone), ("pass with hosting", hosted)):
        print(
            f"  {name}: median {statistics.median(seconds) * 1000:.0f} ms, "
            f"max {max(seconds) * 1000:.0f} ms"
        )
    bare = statistics.median(fetches)
    print(f"  bare aiohttp GET and SHA-256 of the same page: median {bare * 1000:.1f} ms")
    print(
        f"  pass with hosting / bare fetch: {statistics.median(hosted) / bare:.0f}x; "
        f"seconds from a queued report to its check are WAKE_EVERY (or a NOTIFY) plus this"
    )


async def _passes(ntd, url: str, address: str, count: int):
    import aiohttp

    store = open_store_for(ntd)
    try:
        with store.session() as session:
            reports.queue(
                session, [validate(Submission(url))], actor="bench", now=utcnow(),
                default_category="baseline",
            )  # fmt: skip
        started = time.monotonic()
        await pass_and_hosting(store, ntd, then_all_missing=True)
        first = time.monotonic() - started
        alone, hosted, fetches = [], [], []
        parts = urlsplit(url)
        by_address = urlunsplit(parts._replace(netloc=f"{address}:{parts.port}"))
        async with aiohttp.ClientSession() as client:
            for _ in range(count):
                for kind, times in (("alone", alone), ("hosted", hosted)):
                    _make_due(store)
                    started = time.monotonic()
                    if kind == "alone":
                        tally = await run_pass(ntd)
                    else:
                        tally, _ = await pass_and_hosting(store, ntd, then_all_missing=True)
                    times.append(time.monotonic() - started)
                    assert tally.checks == 1, tally
                started = time.monotonic()
                async with client.get(by_address) as answer:
                    digest = hashlib.sha256()
                    async for chunk in answer.content.iter_any():
                        digest.update(chunk)
                fetches.append(time.monotonic() - started)
        return first, alone, hosted, fetches
    finally:
        store.close()


def _make_due(store) -> None:
    with store.session() as session:
        session.execute(update(Report).values(next_due_at=utcnow() - timedelta(seconds=1)))


def _schema(statement: str) -> None:
    engine = create_engine(POSTGRES, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text(statement))
    engine.dispose()


if __name__ == "__main__":
    main()
