"""Report to first notice under `ntd run` with default settings: the median and the
longest over 20 URLs queued one by one while it runs, on SQLite (one `ntd run`) and on
PostgreSQL (two, one leading), each beside the interval-bound behaviour measured in the
same run (WAKE_EVERY=0s: a new report waits for CHECK_EVERY, 1 minute by default).

    .venv/bin/python bench/first_notice.py [--urls N] [--spacing SECONDS] [--store S]

Everything runs against the simulated internet: web hosts, DNS with Team Cymru
records, RDAP, and a real SMTP server. Takes about ten minutes: it is real time.
PostgreSQL is the one TEST_POSTGRES_URL names (a schema of its own, dropped after).
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from simnet import Internet  # noqa: E402
from simnet.cymru import announce  # noqa: E402
from simnet.rdap import contact  # noqa: E402
from simnet.smtp import SmtpServer  # noqa: E402

NTD = Path(sys.executable).with_name("ntd")


POSTGRES = os.environ.get(
    "TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/ntd_test"
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--urls", type=int, default=20)
    parser.add_argument("--spacing", type=float, default=3.0, help="seconds between reports")
    parser.add_argument("--store", choices=["sqlite", "postgresql", "both"], default="both")
    args = parser.parse_args()
    stores = ["sqlite", "postgresql"] if args.store == "both" else [args.store]
    for store in stores:
        workers = 2 if store == "postgresql" else 1
        figures = {}
        for mode, wake in (("woken", None), ("interval-bound", "0s")):
            delays, emails = run(args.urls, args.spacing, store, workers, wake)
            figures[mode] = delays
            print(
                f"{store}, {workers} `ntd run`, {mode}: {len(delays)} of {args.urls} notified "
                f"in {emails} emails; report to first notice median "
                f"{statistics.median(delays):.1f} s, max {max(delays):.1f} s",
                flush=True,
            )
            # Reports queued less than FIRST_NOTICE_WINDOW apart may share a notice: the
            # later ones then wait less than the window.
            print("  each, in the order queued: " + " ".join(f"{d:.1f}" for d in delays))
        woken, old = figures["woken"], figures["interval-bound"]
        print(
            f"{store}: median {statistics.median(woken):.1f} s against "
            f"{statistics.median(old):.1f} s interval-bound "
            f"({statistics.median(old) / statistics.median(woken):.1f}x sooner); "
            f"max {max(woken):.1f} s against {max(old):.1f} s (targets: median 10 s, max 30 s)",
            flush=True,
        )


def run(
    urls: int, spacing: float, store: str, workers: int, wake: str | None
) -> tuple[list[float], int]:
    """Each report's delay to its first notice, and how many notices were sent."""
    with Internet() as net, SmtpServer() as smtp, tempfile.TemporaryDirectory() as tmp:
        rdap = net.start_rdap()
        net.dns.a("probe.test", "127.10.255.254")
        site = net.site("shop.test", "127.10.1.1")
        announce(net.dns, site.address, 64500, "127.10.1.0/24")
        rdap.network("127.10.1.0/24", entities=[contact("AB", ["abuse"], email="abuse@h.test")])
        schema = f"bench_{os.getpid()}_{int(time.time())}"
        database = (
            f"sqlite:///{tmp}/ntd.sqlite3"
            if store == "sqlite"
            else f"{POSTGRES}?options=-csearch_path%3D{schema}"
        )
        if store == "postgresql":
            _schema(f"CREATE SCHEMA {schema}")
        env = {
            **os.environ,
            "NTD_DATABASE_URL": database,
            "NTD_DNS_NAMESERVERS": net.nameservers[0],
            "NTD_RDAP_URL": rdap.url,
            "NTD_ALLOWED_PRIVATE_NETWORKS": "127.10.0.0/16",
            "NTD_OUTAGE_PROBE_NAME": "probe.test",
            "NTD_SMTP_URL": smtp.url,
            "NTD_MAIL_FROM": "notices@hotline.test",
            "NTD_HOTLINE_NAME": "Bench Hotline",
            "NTD_HOTLINE_COUNTRY": "NL",
            **({"NTD_WAKE_EVERY": wake} if wake else {}),
        }
        # The store made (and migrated) before the schedulers start, as in service.
        subprocess.run(
            [str(NTD), "stats", "--json"], env=env, cwd=tmp, check=True, capture_output=True
        )
        services = [
            subprocess.Popen(
                [str(NTD), "run"],
                env=env,
                cwd=tmp,
                stderr=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
            )
            for _ in range(workers)
        ]
        queued: dict[str, float] = {}
        try:
            time.sleep(3)
            for i in range(urls):
                site.page(f"/{i}.jpg")
                url = site.url(f"/{i}.jpg")
                subprocess.run(
                    [str(NTD), "add", url], env=env, cwd=tmp, check=True, capture_output=True
                )
                queued[url] = time.monotonic()
                time.sleep(spacing)
            delays = _wait_for_notices(smtp, queued, timeout=600)
            emails = len(smtp.received)
        finally:
            for service in services:
                service.send_signal(signal.SIGTERM)
            for service in services:
                service.wait(timeout=60)
            if store == "postgresql":
                _schema(f"DROP SCHEMA {schema} CASCADE")
    return delays, emails


def _schema(statement: str) -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(POSTGRES, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text(statement))
    engine.dispose()


def _wait_for_notices(smtp: SmtpServer, queued: dict[str, float], timeout: float):
    """Seconds from each URL's queueing to the arrival of the first email naming it (as
    the SMTP server stamped it, not when this loop looked)."""
    import json

    first: dict[str, float] = {}
    deadline = time.monotonic() + timeout
    while len(first) < len(queued) and time.monotonic() < deadline:
        for message in smtp.received:
            for part in message.message.iter_attachments():
                if part.get_content_type() == "application/json":
                    url = json.loads(part.get_content())["url"]
                    first[url] = min(first.get(url, message.at), message.at)
        time.sleep(0.2)
    return [first[url] - queued[url] for url in queued if url in first]


if __name__ == "__main__":
    main()
