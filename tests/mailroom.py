"""Reports online with a known abuse desk, and the notifier run on them: what the
notifier's and the inbound path's tests start from.

Reports are made online by real checks against the simulated internet; their hosting is
set in the store directly, as the hosting look-ups would leave it (those have tests of
their own), so that each test names the contacts it is about.
"""

from __future__ import annotations

from notifier.passes import notify
from store.models import Hosting
from store.types import utcnow

IDENTITY = {
    "mail_from": "notices@hotline.test",
    "hotline_name": "Test Hotline",
    "hotline_country": "NL",
}


class Mailroom:
    def __init__(self, world, smtp) -> None:
        self.world, self.smtp = world, smtp
        self.site = world.net.site("host.test")
        self.count = 0

    def online(self, contact: str, n: int = 1, **hosting) -> list[int]:
        """``n`` reports online now, hosted where ``contact`` is the abuse desk."""
        ids = []
        for _ in range(n):
            self.count += 1
            self.site.page(f"/{self.count}.jpg")
            ids += self.world.add(self.site.url(f"/{self.count}.jpg"))
        self.world.check(ids)
        for report_id in ids:
            self.host(report_id, contact, **hosting)
        return ids

    def host(self, report_id: int, contact: str, **hosting) -> None:
        """Hosting as the look-ups would leave it: at ``self.site``, ``contact`` its desk."""
        with self.world.store.session() as session:
            session.merge(
                Hosting(
                    report_id=report_id,
                    ip=self.site.address,
                    asn=64500,
                    network="127.10.0.0/24",
                    org="Example Hosting",
                    country=hosting.get("country", "NL"),
                    abuse_email=contact,
                    sources={"abuse_email": "test"},
                    details=hosting.get("details", {}),
                    resolved_at=utcnow(),
                )
            )

    def settings(self, **overrides):
        return self.world.settings(smtp_url=self.smtp.url, smtp_retry="0s", **IDENTITY, **overrides)

    def notify(self, **overrides):
        return notify(self.world.store, self.settings(**overrides))
