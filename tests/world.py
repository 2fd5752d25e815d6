"""A test's world: the simulated internet, the store, and the crawler run against them."""

from __future__ import annotations

from typing import Any

from crawler.passes import check_and_resolve, run_pass
from crawler.recorder import PassTally
from intake.submissions import Submission, validate
from simnet import Internet
from store import reports
from store.db import open_store
from store.models import Report
from store.types import utcnow
from store.views import report_view
from tests.conftest import make_settings

# The simulated internet's sites live here; 127.0.0.1 and the rest stay forbidden.
SIMNET_NETWORK = "127.10.0.0/16"
PROBE_NAME = "probe.test"


class World:
    def __init__(self, net: Internet, database_url: str, reactor_thread) -> None:
        self.net = net
        self.database_url = database_url
        self.reactor_thread = reactor_thread
        self.store = open_store(database_url)
        # Our resolver's probe asks about a name that exists: an outage is then visible.
        net.dns.a(PROBE_NAME, "127.10.255.254")
        # Every RDAP request goes here: never to the registries the bootstrap names.
        self.rdap = net.start_rdap()
        self.overrides: dict[str, Any] = {"rdap_url": self.rdap.url}

    def resolve(self, ids: list[int] | None = None, **overrides):
        """Hosting resolution, as `ntd check` runs it after a pass."""
        from hosting.resolve import resolve_hosting

        return self.reactor_thread.run(resolve_hosting, self.store, self.settings(**overrides), ids)

    def settings(self, **overrides):
        values = {
            "database_url": self.database_url,
            "dns_nameservers": self.net.nameservers[0],
            "allowed_private_networks": SIMNET_NETWORK,
            "outage_probe_name": PROBE_NAME,
            "recheck_interval": "0s",
            "dns_timeout": "1s",
            "fetch_timeout": "5s",
            **self.overrides,
            **overrides,
        }
        return make_settings(**values)

    def environ(self, **settings: str) -> dict[str, str]:
        """NTD_* variables that point an `ntd` subprocess at this world, plus ``settings``
        by name (``smtp_url=...``)."""
        values = {
            "database_url": self.database_url,
            "dns_nameservers": self.net.nameservers[0],
            "allowed_private_networks": SIMNET_NETWORK,
            "outage_probe_name": PROBE_NAME,
            "rdap_url": self.rdap.url,
            **settings,
        }
        return {f"NTD_{name.upper()}": str(value) for name, value in values.items()}

    def add(self, *urls: str, sha256: tuple[str, ...] = ()) -> list[int]:
        entries = [validate(Submission(url, sha256=sha256)) for url in urls]
        with self.store.session() as session:
            queued = reports.queue(
                session, entries, actor="tester", now=utcnow(), default_category="baseline"
            )
        return [q.id for q in queued]

    def check(self, ids: list[int] | None = None, **overrides) -> PassTally:
        return self.reactor_thread.run(run_pass, self.settings(**overrides), ids)

    def check_and_resolve(self, ids: list[int] | None = None, **overrides):
        """A pass and its hosting, as `ntd check` runs them: (pass tally, hosting tally)."""
        return self.reactor_thread.run(check_and_resolve, self.settings(**overrides), ids)

    def show(self, report_id: int) -> dict:
        with self.store.session() as session:
            return report_view(session, session.get(Report, report_id))

    def state(self, report_id: int) -> str:
        return self.show(report_id)["state"]
