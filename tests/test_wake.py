"""Every way work is queued wakes `ntd run` at once, not at its next CHECK_EVERY.

`ntd run` finds new work two ways (service.process.watch): a look every WAKE_EVERY at the
wake-ups counted in the store (store.queue.wakeups), against the count read as its last
pass began, and on PostgreSQL a NOTIFY on store.queue.WAKE_CHANNEL; whoever queues the
work does both in the transaction that queues it. Each way in is driven here as staff, a
reporter or a provider would use it (the command line, the dashboard, the API, the
provider page), and each must give both signals; tests/test_scheduler.py shows `ntd run`
acting on them.
"""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import update

from store.models import Report
from store.queue import WAKE_CHANNEL, wakeups
from store.types import utcnow
from tests.test_provider_page import PUBLIC, form_token, sent_with_link
from tests.test_web_support import Web, cheap_passwords


class Waiting:
    """What a waiting `ntd run` would notice: the look, and on PostgreSQL a LISTEN on a
    connection of its own."""

    def __init__(self, store) -> None:
        self.store = store
        self.raw = None
        if store.dialect == "postgresql":
            self.raw = store.engine.raw_connection()
            connection = self.raw.driver_connection
            connection.autocommit = True
            connection.execute(f"LISTEN {WAKE_CHANNEL}")

    def between_passes(self) -> None:
        """As a pass begins: every report checked and due later, the wake-ups read, and
        nothing heard yet."""
        with self.store.session() as session:
            session.execute(update(Report).values(next_due_at=utcnow() + timedelta(hours=1)))
            self.seen = wakeups(session)
        self._heard()  # what the setting-up said is not the way in under test

    def looks_new(self) -> bool:
        with self.store.session() as session:
            return wakeups(session) > self.seen

    def heard(self) -> bool:
        """Whether a NOTIFY came on the wake channel (always True off PostgreSQL)."""
        return self.raw is None or self._heard(timeout=2.0) > 0

    def _heard(self, timeout: float = 0.2) -> int:
        if self.raw is None:
            return 0
        connection = self.raw.driver_connection
        return sum(n.channel == WAKE_CHANNEL for n in connection.notifies(timeout=timeout))

    def close(self) -> None:
        if self.raw is not None:
            self.raw.invalidate()  # never back to the pool in LISTEN mode


@pytest.fixture
def web(database_url, monkeypatch):
    cheap_passwords(monkeypatch)
    web = Web(database_url)
    yield web
    web.close()


@pytest.fixture
def waiting(web):
    watcher = Waiting(web.store)
    yield watcher
    watcher.close()


def _add(web, ntd, tmp_path, report_id):
    assert ntd("add", "http://example.com/added.jpg").exit_code == 0


def _import(web, ntd, tmp_path, report_id):
    csv_file = tmp_path / "batch.csv"
    csv_file.write_text("url,ref\nhttp://example.com/imported.jpg,C-9\n")
    assert ntd("import", str(csv_file)).exit_code == 0


def _api(web, ntd, tmp_path, report_id):
    added = web.api("analyst").post("/api/reports", json={"urls": ["http://example.com/api.jpg"]})
    assert added.status_code in (200, 201), added.text


def _dashboard_queue(web, ntd, tmp_path, report_id):
    browser = web.browser("analyst")
    answer = browser.post(
        "/queue", data={"urls": "http://example.com/pasted.jpg", "csrf": browser.csrf}
    )
    assert answer.status_code in (200, 303), answer.text


def _recheck_now(web, ntd, tmp_path, report_id):
    browser = web.browser("analyst")
    answer = browser.post(f"/reports/{report_id}/recheck", data={"csrf": browser.csrf})
    assert answer.headers["location"].endswith("done=recheck")


def _public_report_assessed(web, ntd, tmp_path, report_id):
    sent = web.client().post(
        "/api/public-reports", json={"urls": ["http://bad.example/1.jpg"], "seen": "A1"}
    )
    assert sent.status_code == 201, sent.text
    [waiting] = json.loads(ntd("submissions", "--json").stdout)
    assert ntd("assess", str(waiting["id"]), "--as", "national").exit_code == 0


WAYS_IN = {
    "ntd add": (_add, False),
    "ntd import": (_import, False),
    "POST /api/reports": (_api, False),
    "the dashboard's queue form": (_dashboard_queue, False),
    "re-check now": (_recheck_now, True),
    "a public report assessed as illegal": (_public_report_assessed, False),
}


@pytest.mark.parametrize("way_in", list(WAYS_IN))
def test_each_way_work_is_queued_wakes_ntd_run(web, waiting, ntd, tmp_path, way_in):
    use, on_a_report = WAYS_IN[way_in]
    report_id = web.queue("http://example.com/known.jpg")[0] if on_a_report else None
    waiting.between_passes()
    use(web, ntd, tmp_path, report_id)
    assert waiting.looks_new(), f"{way_in}: nothing newly due for the look to find"
    assert waiting.heard(), f"{way_in}: no NOTIFY on {WAKE_CHANNEL}"


def test_the_police_clearing_a_held_report_wakes_ntd_run(web, waiting, ntd):
    [report_id] = web.queue("http://example.com/held.jpg")
    assert ntd("police", "hold", str(report_id)).exit_code == 0
    waiting.between_passes()
    assert ntd("police", "clear", str(report_id)).exit_code == 0
    assert waiting.looks_new() and waiting.heard()


def test_a_provider_s_removed_click_wakes_ntd_run(mailroom, monkeypatch):
    cheap_passwords(monkeypatch)
    (report_id,), path = sent_with_link(mailroom, "abuse@host.test")
    page = Web(mailroom.world.database_url, public_url=PUBLIC)
    watcher = Waiting(page.store)
    try:
        client = page.client()
        token = form_token(client.get(path).text)
        watcher.between_passes()
        answer = client.post(path, data={"csrf": token, "report": report_id, "action": "removed"})
        assert answer.status_code == 303
        assert watcher.looks_new() and watcher.heard()
    finally:
        watcher.close()
        page.close()


def test_checks_held_back_by_the_outage_guard_wake_nothing(world):
    """Reports the guard kept queued are due again at once; that must not start pass
    after pass (it did, once a second, when the look was "due since the last pass")."""
    watcher = Waiting(world.store)
    try:
        world.add(*(f"http://gone{n}.test/x.jpg" for n in range(12)))  # every one nxdomain
        with world.store.session() as session:
            watcher.seen = wakeups(session)
        watcher._heard()
        tally = world.check(outage_min_checks="10", outage_share="0.5")
        assert tally.all_held and tally.changes == 0
        assert not watcher.looks_new()
        assert watcher._heard() == 0
    finally:
        watcher.close()
