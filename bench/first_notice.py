"""Report to first notice under `ntd run`, with default intervals (CHECK_EVERY 1m,
NOTIFY_EVERY 5m): the median over 20 URLs queued one by one while it runs.

    .venv/bin/python bench/first_notice.py [--urls N] [--spacing SECONDS]

Everything runs against the simulated internet: web hosts, DNS with Team Cymru
records, RDAP, and a real SMTP server. Takes a few minutes: it is real time.
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--urls", type=int, default=20)
    parser.add_argument("--spacing", type=float, default=6.0, help="seconds between reports")
    args = parser.parse_args()
    with Internet() as net, SmtpServer() as smtp, tempfile.TemporaryDirectory() as tmp:
        rdap = net.start_rdap()
        net.dns.a("probe.test", "127.10.255.254")
        site = net.site("shop.test", "127.10.1.1")
        announce(net.dns, site.address, 64500, "127.10.1.0/24")
        rdap.network("127.10.1.0/24", entities=[contact("AB", ["abuse"], email="abuse@h.test")])
        env = {
            **os.environ,
            "NTD_DATABASE_URL": f"sqlite:///{tmp}/ntd.sqlite3",
            "NTD_DNS_NAMESERVERS": net.nameservers[0],
            "NTD_RDAP_URL": rdap.url,
            "NTD_ALLOWED_PRIVATE_NETWORKS": "127.10.0.0/16",
            "NTD_OUTAGE_PROBE_NAME": "probe.test",
            "NTD_SMTP_URL": smtp.url,
            "NTD_MAIL_FROM": "notices@hotline.test",
            "NTD_HOTLINE_NAME": "Bench Hotline",
            "NTD_HOTLINE_COUNTRY": "NL",
        }
        service = subprocess.Popen(
            [str(NTD), "run"],
            env=env,
            cwd=tmp,
            stderr=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
        )
        queued: dict[str, float] = {}
        try:
            time.sleep(3)
            for i in range(args.urls):
                site.page(f"/{i}.jpg")
                url = site.url(f"/{i}.jpg")
                subprocess.run(
                    [str(NTD), "add", url], env=env, cwd=tmp, check=True, capture_output=True
                )
                queued[url] = time.monotonic()
                time.sleep(args.spacing)
            delays = _wait_for_notices(smtp, queued, timeout=600)
        finally:
            service.send_signal(signal.SIGTERM)
            service.wait(timeout=60)
    print(
        f"{len(delays)} of {len(queued)} URLs notified; report to first notice: "
        f"median {statistics.median(delays):.0f} s, max {max(delays):.0f} s "
        f"(target: within 120 s)"
    )


def _wait_for_notices(smtp: SmtpServer, queued: dict[str, float], timeout: float):
    import json

    first: dict[str, float] = {}
    seen = 0
    deadline = time.monotonic() + timeout
    while len(first) < len(queued) and time.monotonic() < deadline:
        received = smtp.received
        for message in received[seen:]:
            for part in message.message.iter_attachments():
                if part.get_content_type() == "application/json":
                    first.setdefault(json.loads(part.get_content())["url"], time.monotonic())
        seen = len(received)
        time.sleep(0.2)
    return [first[url] - queued[url] for url in queued if url in first]


if __name__ == "__main__":
    main()
