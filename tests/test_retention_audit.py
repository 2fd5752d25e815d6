"""Retention (`ntd purge`), the sealed audit chain (`ntd audit verify|export`), and sign-in
throttling: what is kept and for how long, that nobody edits history unseen, and that a
guesser gets a handful of tries."""

from __future__ import annotations

import json
import random
import re
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import insert, select, text, update
from sqlalchemy.exc import IntegrityError

from stats.query import figures
from store import audit
from store.models import (
    Check,
    Event,
    Fingerprint,
    Hosting,
    InboundMessage,
    LoginThrottle,
    Notice,
    NoticeReport,
    ProviderAction,
    Report,
    ReportRef,
)
from store.retention import purge
from tests.conftest import run_ntd
from tests.test_web_support import PASSWORD, Web, cheap_passwords, csrf_of

NTD = Path(sys.executable).with_name("ntd")
NOW = datetime(2027, 6, 1, tzinfo=UTC)
YEAR = timedelta(days=365)
WINDOW = timedelta(days=30)
SECRET_URL = "http://secret-host.example/evidence"


def history(store, count: int, seed: int = 7) -> dict[str, list[int]]:
    """``count`` reports over three years: removed, online, closed, rejected; checked,
    hosted, notified (some notices bounced, some answered, with replies and answers on
    the provider page), with refs, fingerprints and audit events naming their URLs."""
    rng = random.Random(seed)
    start = NOW - 3 * YEAR
    reports, hosting, checks, refs, prints, events = [], [], [], [], [], []
    states = {"removed": [], "online": [], "closed": [], "rejected": []}
    for n in range(1, count + 1):
        created = start + timedelta(days=rng.uniform(0, 3 * 365 - 10))
        state = rng.choices(list(states), weights=[60, 20, 12, 8])[0]
        notified = created + timedelta(hours=rng.uniform(1, 48)) if state != "rejected" else None
        removed = (
            notified + timedelta(hours=rng.expovariate(1 / 40)) if state == "removed" else None
        )
        if removed is not None and removed > NOW:
            state, removed = "online", None
        states[state].append(n)
        url = f"{SECRET_URL}/{n}.jpg"
        reports.append(
            {
                "id": n,
                "url": url,
                "canonical_url": url,
                "url_key": f"{n:064x}",
                "ref": f"CASE-{n}",
                "category": rng.choice(["A1", "A2", "B1"]),
                "state": state,
                "reason": "withdrawn by staff" if state == "closed" else None,
                "seen_online": state != "rejected",
                "reappearances": int(rng.random() < 0.05),
                "created_at": created,
                "created_by": "analyst",
                "first_online_at": created if state != "rejected" else None,
                "removed_at": removed,
                "first_notice_at": notified,
                "first_response_at": (
                    notified + timedelta(hours=rng.uniform(1, 30))
                    if notified and rng.random() < 0.3
                    else None
                ),
                "last_checked_at": removed or created + timedelta(days=2),
                "last_ip": f"192.0.2.{n % 250}",
                "last_sha256": f"{n:064x}",
                "last_final_url": url,
                "check_count": 3,
                "next_due_at": None if state in ("closed", "rejected") else NOW,
            }
        )
        if state != "rejected":
            asn = rng.choice([64500, 64501, 64502, 64503])
            hosting.append(
                {
                    "report_id": n,
                    "ip": f"192.0.2.{n % 250}",
                    "asn": asn,
                    "network": "192.0.2.0/24",
                    "org": f"Host {asn}",
                    "country": rng.choice(["NL", "DE", "US"]),
                    "abuse_email": f"abuse@host{asn}.example",
                    "registered_domain": "secret-host.example",
                    "sources": {"asn": "cymru"},
                    "details": {"fallback_emails": ["noc@host.example"]},
                    "resolved_at": created,
                }
            )
        for k in range(3):
            checks.append(
                {
                    "report_id": n,
                    "at": created + timedelta(hours=k),
                    "outcome": "online" if k < 2 else "gone",
                    "final_url": url,
                    "sha256": f"{n:064x}",
                    "ip": f"192.0.2.{n % 250}",
                    "truncated": False,
                }
            )
        refs.append({"report_id": n, "ref": f"CASE-{n}", "added_at": created, "added_by": "a"})
        prints.append({"report_id": n, "sha256": f"{n + 1:064x}"})
        events.append(
            {
                "at": created,
                "actor": "crawler",
                "report_id": n,
                "action": "state_changed",
                "from_state": "queued",
                "to_state": state,
                "detail": f"redirected to {url}",
            }
        )
    with store.session() as session:
        session.execute(insert(Report.__table__), reports)
        session.execute(insert(Hosting.__table__), hosting)
        session.execute(insert(Check.__table__), checks)
        session.execute(insert(ReportRef.__table__), refs)
        session.execute(insert(Fingerprint.__table__), prints)
        audit.record(session, events)
        notified_ids = [r["id"] for r in reports if r["first_notice_at"] is not None]
        for notice_id, start_index in enumerate(range(0, len(notified_ids), 3), 1):
            batch = notified_ids[start_index : start_index + 3]
            first = reports[batch[0] - 1]
            sent = first["first_notice_at"]
            bounced = rng.random() < 0.05
            session.execute(
                insert(Notice.__table__),
                [
                    {
                        "id": notice_id,
                        "kind": "notice",
                        "to": "abuse@host.example",
                        "created_at": sent,
                        "sent_at": sent,
                        "failed_at": sent + timedelta(hours=1) if bounced else None,
                        "answered_at": first["first_response_at"],
                        "message_id": f"<ntd-{notice_id}.x@hotline.example>",
                    }
                ],
            )
            session.execute(
                insert(NoticeReport.__table__),
                [{"notice_id": notice_id, "report_id": r} for r in batch],
            )
            if first["first_response_at"] is not None:
                session.add(
                    InboundMessage(
                        received_at=first["first_response_at"],
                        via="pipe",
                        digest=f"{notice_id:064x}",
                        size=100,
                        from_address="abuse@host.example",
                        subject=f"Re: {SECRET_URL}",
                        kind="reply",
                        matched_by="message_id",
                        notice_id=notice_id,
                        text=f"We looked at {SECRET_URL}",
                        attachment_types=[],
                    )
                )
                session.add(
                    ProviderAction(
                        at=first["first_response_at"],
                        notice_id=notice_id,
                        report_id=batch[0],
                        action="question",
                        text=f"Which file at {SECRET_URL}?",
                    )
                )
    return states


def stats_now(store) -> dict:
    return figures(store, min_group=5, now=NOW.timestamp())


def everything_of(store, report_id: int) -> str:
    """Every stored text about one report, as one string to search."""
    with store.session() as session:
        parts = [repr(session.execute(select(Report).where(Report.id == report_id)).scalar())]
        for model, column in (
            (Report, Report.id),
            (Check, Check.report_id),
            (Hosting, Hosting.report_id),
            (ReportRef, ReportRef.report_id),
            (Fingerprint, Fingerprint.report_id),
            (Event, Event.report_id),
            (ProviderAction, ProviderAction.report_id),
        ):
            for row in session.execute(select(model.__table__).where(column == report_id)):
                parts.append(repr(tuple(row)))
    return "\n".join(parts)


def message_texts(store) -> tuple[int, int]:
    """(texts erased, texts kept) of replies to notices whose reports are all purged;
    and fails if a reply to a notice with a report still kept lost its text."""
    erased = kept = 0
    with store.session() as session:
        for message in session.scalars(select(InboundMessage)):
            states = session.execute(
                select(Report.purged_at)
                .join(NoticeReport, NoticeReport.report_id == Report.id)
                .where(NoticeReport.notice_id == message.notice_id)
            ).scalars()
            if all(at is not None for at in states):
                assert message.text is None and message.subject is None
                erased += 1
            else:
                assert message.text is not None  # other reports of it still need it
                kept += 1
    return erased, kept


def test_a_purge_keeps_the_statistics_identical_and_the_chain_intact(store, ntd):
    states = history(store, 3000)
    before = stats_now(store)
    with store.session() as session:
        counted = purge(session, NOW, YEAR, WINDOW, actor="tester", dry_run=True)
    assert stats_now(store) == before and counted.reports > 500  # a dry run changes nothing
    with store.session() as session:
        done = purge(session, NOW, YEAR, WINDOW, actor="tester")
    assert done == counted  # the dry run counted what the purge did
    assert stats_now(store) == before
    assert done.checks == done.reports  # the middle one of three checks each
    with store.session() as session:
        purged = session.scalars(select(Report.id).where(Report.purged_at.isnot(None))).all()
        still = session.scalars(select(Report).where(Report.purged_at.is_(None))).all()
        [event] = session.scalars(select(Event).where(Event.action == "purged")).all()
        assert event.actor == "tester" and f"{done.reports} reports" in event.detail
    assert len(purged) == done.reports
    assert set(purged) <= set(states["removed"] + states["closed"] + states["rejected"])
    assert all(r.state == "online" or r.created_at > NOW - YEAR - timedelta(days=7) for r in still)
    for report_id in random.Random(1).sample(purged, 25):
        stored = everything_of(store, report_id)
        for kept in ("secret-host", "CASE-", f"192.0.2.{report_id % 250}'"):
            assert kept not in stored, [line for line in stored.splitlines() if kept in line]
    erased, kept = message_texts(store)
    assert erased == done.messages and erased > 0 and kept > 0
    shown = json.loads(ntd("show", str(purged[0]), "--json").output)
    assert (shown["url"], shown["canonical_url"]) == ("purged", "purged")
    assert shown["purged_at"] is not None and shown["id"] == purged[0]
    assert shown["checks"] and all(c["ip"] is None and c["sha256"] is None for c in shown["checks"])
    verified = ntd("audit", "verify")
    assert verified.exit_code == 0, verified.output
    assert f"{done.event_details} details erased by purges" in verified.output
    again = ntd("purge", "--dry-run")
    assert again.output.startswith("would purge: 0 reports")


def test_a_purged_url_reported_again_is_a_new_report(store, ntd):
    assert ntd("add", "http://example.com/a.jpg", "--ref", "OLD").exit_code == 0
    ntd("close", "1", "--reason", "done")
    with store.session() as session:
        session.execute(update(Event).values(at=NOW - 2 * YEAR))  # closed long ago
        session.execute(update(Report).values(created_at=NOW - 2 * YEAR))
    # Changing `at` by hand breaks the seals: the test reseals as if it had been so.
    _reseal(store)
    result = ntd("purge")
    assert result.exit_code == 0 and result.output.startswith("purged: 1 reports")
    added = ntd("add", "http://example.com/a.jpg")
    assert added.output.startswith("2\t")
    assert ntd("audit", "verify").exit_code == 0


def _reseal(store) -> None:
    with store.session() as session:
        previous, rows = (
            audit.GENESIS,
            session.execute(select(*audit._COLUMNS, Event.seq).order_by(Event.seq)).all(),
        )
        for row in rows:
            digest = audit.detail_digest(row.detail)
            previous = audit.chain(previous, row.seq, row, digest)
            session.execute(
                update(Event).where(Event.id == row.id).values(detail_digest=digest, hash=previous)
            )
        session.execute(text("UPDATE audit_head SET hash = :h"), {"h": previous})


def test_audit_verify_names_the_row_changed_deleted_or_inserted(store, ntd, database_url):
    for n in range(6):
        assert ntd("add", f"http://example.com/{n}.jpg").exit_code == 0
    ntd("pause", "2")
    ntd("resume", "2")
    ntd("close", "3", "--reason", "withdrawn")
    intact = ntd("audit", "verify")
    assert intact.exit_code == 0 and intact.output == "audit chain intact: 9 events\n"
    exported = [json.loads(line) for line in ntd("audit", "export").output.splitlines()]
    assert [e["seq"] for e in exported] == list(range(1, 10))
    assert exported[6]["action"] == "paused" and exported[6]["actor"] == "analyst1"

    def tampered(sql: str, **values) -> str:
        with store.engine.begin() as connection:
            connection.execute(text(sql), values)
        result = ntd("audit", "verify")
        assert result.exit_code == 1
        return result.output

    def restore() -> None:
        with store.engine.begin() as connection:
            connection.execute(text("DELETE FROM events"))
            for row in saved:
                connection.execute(insert(Event.__table__), dict(row._mapping))

    with store.engine.connect() as connection:
        saved = connection.execute(select(Event.__table__).order_by(Event.id)).all()
    paused = exported[6]["id"]
    said = tampered("UPDATE events SET actor = 'someone else' WHERE id = :i", i=paused)
    assert f"event {paused} was changed" in said
    restore()
    said = tampered("UPDATE events SET detail = 'not withdrawn' WHERE action = 'closed'")
    assert "was changed (its detail)" in said
    restore()
    said = tampered("DELETE FROM events WHERE id = :i", i=paused)
    assert "event sealed as 7 was deleted" in said
    restore()
    said = tampered("DELETE FROM events WHERE seq >= 8")
    assert "the newest events, sealed as 8 to 9, were deleted" in said
    restore()
    said = tampered(
        "INSERT INTO events (at, actor, action, report_id) VALUES (:at, 'x', 'closed', 1)",
        at=NOW,
    )
    assert "was inserted: it carries no seal" in said
    restore()
    forged = exported[-1]
    forge = (
        "INSERT INTO events (at, actor, action, seq, detail_digest, hash) "
        "VALUES (:at, 'x', 'closed', :seq, :d, :h)"
    )
    # A seal already given: the database itself refuses it.
    with pytest.raises(IntegrityError), store.engine.begin() as connection:
        connection.execute(
            text(forge), dict(at=NOW, seq=9, d=forged["detail_sha256"], h=forged["hash"])
        )
    said = tampered(forge, at=NOW, seq=10, d=forged["detail_sha256"], h=forged["hash"])
    assert "was inserted: its seal 10 is beyond the chain's head (9)" in said


@pytest.fixture
def web(database_url, monkeypatch):
    cheap_passwords(monkeypatch)
    # A backoff far longer than the tries take, however loaded the machine: the tries must
    # all fall inside it. Its end is then brought forward in the store, not waited for.
    web = Web(database_url, login_backoff="120s", login_failures="5")
    yield web
    web.close()


def test_a_hundred_wrong_passwords_get_a_handful_of_argon2_checks(web, monkeypatch):
    from store import users

    web.user("victim", "analyst")
    web.user("bystander", "analyst")
    checked = []
    cheap = users.HASHER

    class Counting(type(cheap)):
        """The same argon2 hasher, counting the passwords it checks."""

        def verify(self, hash_, password):
            checked.append(password)
            return super().verify(hash_, password)

    monkeypatch.setattr(
        users,
        "HASHER",
        Counting(cheap.time_cost, cheap.memory_cost, cheap.parallelism, cheap.hash_len),
    )

    def sign_in(client, name, password):
        form = client.get("/login")
        return client.post(
            "/login",
            data={"name": name, "password": password, "csrf": csrf_of(form.text), "next": "/"},
        )

    attacker = web.client()
    answers = [sign_in(attacker, "victim", f"guess {n}").status_code for n in range(100)]
    assert answers[:5] == [401] * 5 and set(answers[5:]) == {429}
    assert len(checked) <= 6, len(checked)  # the rest refused before any hash was checked
    owner = TestClientFrom(web, "198.51.100.7")
    locked = sign_in(owner, "victim", PASSWORD)
    assert locked.status_code == 429 and 0 < int(locked.headers["retry-after"]) <= 120
    assert sign_in(TestClientFrom(web, "198.51.100.8"), "bystander", PASSWORD).status_code == 303
    with web.store.session() as session:  # the backoff has passed
        session.execute(
            update(LoginThrottle)
            .where(LoginThrottle.locked_until.isnot(None))
            .values(locked_until=datetime.now(UTC) - timedelta(seconds=1))
        )
    assert sign_in(owner, "victim", PASSWORD).status_code == 303
    # A success cleared the count: one more wrong try is a plain 401 again.
    again = TestClientFrom(web, "198.51.100.7")  # signed out: the first is signed in
    assert sign_in(again, "victim", "wrong again").status_code == 401


def TestClientFrom(web, address: str):  # noqa: N802 - reads as the class it makes
    from starlette.testclient import TestClient

    return TestClient(web.app, follow_redirects=False, client=(address, 50000))


def test_unknown_tokens_from_one_address_are_throttled(web):
    good = web.user("script", "analyst")
    client = TestClientFrom(web, "203.0.113.9")
    codes = [
        client.get("/api/reports", headers={"Authorization": f"Bearer ntd_wrong{n}"}).status_code
        for n in range(25)
    ]
    assert codes[:20] == [401] * 20 and set(codes[20:]) == {429}
    elsewhere = TestClientFrom(web, "203.0.113.10")
    answer = elsewhere.get("/api/reports", headers={"Authorization": f"Bearer {good}"})
    assert answer.status_code == 200


def test_passwords_tokens_sessions_and_provider_links_never_reach_the_logs(
    database_url, guarded_env, tmp_path
):
    import httpx

    env = {**guarded_env, "NTD_DATABASE_URL": database_url, "NTD_PASSWORD": PASSWORD}
    made = run_ntd("users", "add", "root", "--role", "admin", env=env, cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    token = made.stdout.decode().strip().split()[-1]
    server = subprocess.Popen(
        [str(NTD), "serve", "--port", "0"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    threading.Thread(target=lambda: lines.extend(server.stdout), daemon=True).start()
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not any("Uvicorn running" in x for x in lines):
            time.sleep(0.05)
        port = re.search(r"127\.0\.0\.1:(\d+)", next(x for x in lines if "running" in x))[1]
        base = f"http://127.0.0.1:{port}"
        with httpx.Client(base_url=base, follow_redirects=False) as client:
            form = client.get("/login")
            signed = client.post(
                "/login",
                data={
                    "name": "root",
                    "password": PASSWORD,
                    "csrf": csrf_of(form.text),
                    "next": "/",
                },
            )
            cookie = signed.cookies["ntd_session"]
            client.post("/login", data={"name": "root", "password": "wrong " + PASSWORD})
            client.get("/api/reports", headers={"Authorization": f"Bearer {token}"})
            client.get("/api/reports", headers={"Authorization": "Bearer ntd_notmine"})
            link = "provider-token-that-must-stay-secret"
            client.get(f"/p/{link}")
            client.post(f"/p/{link}", data={"csrf": "x", "report": "1", "action": "removed"})
    finally:
        server.terminate()
        server.wait(timeout=20)
    log = "".join(lines)
    assert "GET /p/… " in log or "/p/…" in log  # the access log is there, the token is not
    for secret in (PASSWORD, token, cookie, link, "ntd_notmine"):
        assert secret not in log


def test_ntd_run_s_purge_job_purges(store, database_url):
    import asyncio

    from service import jobs
    from tests.conftest import make_settings

    history(store, 50)
    settings = make_settings(database_url=database_url, retention="1d")
    service = jobs.Service(settings, store)
    asyncio.run(jobs.purge(service))
    assert service.failures == {}
    with store.session() as session:
        purged = session.scalars(select(Report.id).where(Report.purged_at.isnot(None))).all()
        [event] = session.scalars(select(Event).where(Event.action == "purged")).all()
    assert purged and event.actor == "scheduler"


def test_events_around_savepoints_are_sealed_once_at_the_commit(store):
    with store.session() as session:
        session.add(Event(at=NOW, actor="a", action="contact_set"))
        with session.begin_nested():
            session.add(Event(at=NOW, actor="b", action="contact_set"))
        with pytest.raises(ZeroDivisionError), session.begin_nested():
            session.add(Event(at=NOW, actor="gone", action="contact_set"))
            session.flush()
            1 / 0  # noqa: B018 - this savepoint rolls back
        session.add(Event(at=NOW, actor="c", action="contact_set"))
    with store.session() as session:
        rows = session.execute(select(Event.actor, Event.seq).order_by(Event.id)).all()
        verdict = audit.verify(session)
    assert [tuple(r) for r in rows] == [("a", 1), ("b", 2), ("c", 3)]
    assert verdict.intact and verdict.events == 3
