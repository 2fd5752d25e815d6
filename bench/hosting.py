"""Hosting resolution of 10,000 reports over 100 networks: RDAP requests must stay at 100.

    .venv/bin/python bench/hosting.py [--reports N] [--networks M]

Each network announces a /24 (Team Cymru records in the simulated DNS) and has an RDAP
answer; each report sits on one of them, seen online at an address of its network. The
peer, measured in the same run, is a look-up per report: what a resolver without the
per-prefix cache and single-flight would ask.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import settings as settings_module  # noqa: E402
from hosting.resolve import resolve_hosting  # noqa: E402
from simnet import Internet  # noqa: E402
from simnet.cymru import announce  # noqa: E402
from simnet.rdap import contact  # noqa: E402
from store.db import open_store  # noqa: E402
from store.types import utcnow  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reports", type=int, default=10_000)
    parser.add_argument("--networks", type=int, default=100)
    args = parser.parse_args()
    with Internet() as net, tempfile.TemporaryDirectory() as tmp:
        rdap = net.start_rdap()
        for k in range(args.networks):
            prefix = f"127.{30 + k // 250}.{k % 250}.0/24"
            rdap.network(
                prefix,
                name=f"NET-{k}",
                country="NL",
                entities=[contact(f"AB{k}", ["abuse"], email=f"abuse@net{k}.test")],
            )
        # All reports' domains under one registered domain: registrar look-ups are per
        # domain, and are counted apart below.
        store = open_store(f"sqlite:///{tmp}/hosting.sqlite3")
        now = utcnow()
        rows, addresses = [], set()
        for i in range(args.reports):
            k = i % args.networks
            address = f"127.{30 + k // 250}.{k % 250}.{1 + (i // args.networks) % 250}"
            addresses.add((address, k))
            url = f"http://img{i}.gallery.test/{i}.jpg"
            rows.append({"u": url, "k": f"{i:064x}", "c": now, "ip": address})
        for address, k in addresses:
            announce(net.dns, address, 64500 + k, f"127.{30 + k // 250}.{k % 250}.0/24")
        with store.engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO reports (url, canonical_url, url_key, category, state, paused, "
                    "seen_online, reappearances, created_at, created_by, check_count, failures, "
                    "last_ip) VALUES (:u, :u, :k, 'A1', 'online', false, true, 0, :c, 'bench', 1, "
                    "0, :ip)"
                ),
                rows,
            )
        settings = settings_module.load(
            {},
            database_url=str(store.engine.url),
            dns_nameservers=net.nameservers[0],
            rdap_url=rdap.url,
            rdap_rate="1000/s",
        )
        started = time.perf_counter()
        tally = asyncio.run(resolve_hosting(store, settings))
        took = time.perf_counter() - started
        ip_requests, domain_requests = rdap.count("/ip/"), rdap.count("/domain/")
        entity_requests = rdap.count("/entity/")
        store.close()
    print(
        f"resolved {tally.resolved:,} of {args.reports:,} reports over {args.networks} "
        f"networks in {took:.1f} s"
    )
    print(
        f"RDAP requests: {ip_requests} network (/ip/), {entity_requests} entity, "
        f"{domain_requests} domain (registrar; one registered domain)"
    )
    print(
        f"peer, one look-up per report: {args.reports:,} network requests "
        f"({args.reports / max(ip_requests, 1):.0f}x more)"
    )
    print(
        f"target: at most {args.networks} network requests: "
        f"{'met' if ip_requests + entity_requests <= args.networks else 'NOT met'}"
    )


if __name__ == "__main__":
    main()
