"""Public reports, on SQLite and PostgreSQL: the form and API, duplicates, assessment by
one or two analysts, the police-first hold, feedback to the reporter, the statistics'
submission side and the reporter's data erased after REPORTER_RETENTION."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select, update

from stats.query import figures
from store import police
from store.models import Event, Report, Submission
from store.retention import purge
from store.submissions import assess
from store.types import utcnow
from tests.mailroom import IDENTITY
from tests.test_web_support import Web, cheap_passwords

GOOD = {"urls": "http://pics.example/a.jpg", "seen": "A1", "text": "on a forum", "email": ""}


@pytest.fixture
def web(database_url, monkeypatch):
    cheap_passwords(monkeypatch)
    web = Web(database_url, public_reports_per_hour="3")
    yield web
    web.close()


def post_form(client, **fields):
    page = client.get("/report")
    assert page.status_code == 200 and "<script" not in page.text
    token = re.search(r'name="token" value="([^"]+)"', page.text)[1]
    return client.post("/report", data={**GOOD, **fields, "token": token}, follow_redirects=False)


def count(store, model=Submission) -> int:
    with store.session() as session:
        return session.scalar(select(func.count()).select_from(model))


def test_a_form_with_bad_fields_is_refused_field_by_field_and_nothing_is_stored(web):
    answer = post_form(
        web.client(),
        urls="http://ok.example/1\nnot a url\nftp://files.example/x",
        seen="C9",
        text="x" * 2001,
        email="me at example",
    )
    assert answer.status_code == 400
    errors = re.findall(r'class="field-error" id="(\w+)-error"[^>]*>([^<]*)', answer.text)
    assert [name for name, _ in errors] == ["urls", "seen", "text", "email"]
    said = dict(errors)
    assert "line 2" in said["urls"] and "line 3" in said["urls"] and "line 1" not in said["urls"]
    assert "at most 2000 characters (2001 given)" in said["text"]
    assert "http://ok.example/1" in answer.text  # given back to be corrected
    assert count(web.store) == 0 and count(web.store, Event) == 0


def test_a_good_report_gets_a_reference_and_waits_for_an_analyst(web):
    answer = post_form(web.client(), urls="http://pics.example/a.jpg\nhttp://pics.example/b.jpg#x")
    assert answer.status_code == 303
    reference = re.fullmatch(r"/report/done\?ref=(S-[A-Z2-9]{8})", answer.headers["location"])[1]
    assert reference in web.client().get(answer.headers["location"]).text
    queue = web.browser("analyst").get("/assess").text
    assert queue.count('class="submission"') == 2 and "http://pics.example/b.jpg<" in queue
    with web.store.session() as session:
        rows = session.scalars(select(Submission)).all()
        assert {r.reference for r in rows} == {reference} and {r.state for r in rows} == {"pending"}
        assert all(r.client_digest and "testclient" not in r.client_digest for r in rows)


def test_a_url_already_tracked_is_a_sighting_and_the_answer_does_not_say_so(web):
    added = web.api("analyst").post("/api/reports", json={"urls": ["http://known.example/x.jpg"]})
    report_id = added.json()["accepted"][0]["id"]
    answer = web.client().post(
        "/api/public-reports",
        json={
            "urls": ["HTTP://known.example/x.jpg#frag", "http://new.example/"],
            "seen": "not-sure",
        },
    )
    assert answer.status_code == 201 and set(answer.json()) == {"reference", "urls"}
    with web.store.session() as session:
        states = dict(session.execute(select(Submission.url, Submission.state)).all())
        sighting = session.scalar(select(Event).where(Event.action == "sighting"))
    assert states == {
        "HTTP://known.example/x.jpg#frag": "duplicate",
        "http://new.example/": "pending",
    }
    assert sighting.report_id == report_id and sighting.actor == "public"
    assert web.browser("analyst").get("/assess").text.count('class="submission"') == 1
    shown = web.api("analyst").get(f"/api/reports/{report_id}").json()
    assert [s["state"] for s in shown["submissions"]] == ["duplicate"]


def test_the_api_names_each_bad_field_and_wants_json(web):
    client = web.client()
    bad = client.post("/api/public-reports", json={"urls": [], "seen": "A1", "email": 5})
    assert bad.status_code == 400 and set(bad.json()["fields"]) == {"urls", "email"}
    assert client.post("/api/public-reports", data={"urls": "x"}).status_code == 400
    unknown = client.post("/api/public-reports", json={**GOOD, "category": "A1"})
    assert unknown.status_code == 400 and "unknown field 'category'" in unknown.json()["error"]
    assert count(web.store) == 0


def test_one_address_may_send_so_many_an_hour(web):
    client = web.client()
    for n in range(3):
        assert post_form(client, urls=f"http://a.example/{n}").status_code == 303
    refused = post_form(client, urls="http://a.example/4")
    assert refused.status_code == 429 and 0 < int(refused.headers["retry-after"]) <= 3600
    assert count(web.store) == 3
    from starlette.testclient import TestClient

    other = TestClient(web.app, follow_redirects=False, client=("198.51.100.20", 5000))
    assert post_form(other, urls="http://a.example/5").status_code == 303


def test_a_form_from_elsewhere_or_too_old_is_refused(web):
    client = web.client()
    forged = client.post("/report", data={**GOOD, "token": "1.abc"})
    assert forged.status_code == 403 and count(web.store) == 0
    # A real token, carried off to a page elsewhere that a visitor's browser then posts.
    token = re.search(r'name="token" value="([^"]+)"', client.get("/report").text)[1]
    for header in ({"Origin": "https://evil.example"}, {"Sec-Fetch-Site": "cross-site"}):
        refused = client.post("/report", data={**GOOD, "token": token}, headers=header)
        assert refused.status_code == 403 and count(web.store) == 0
    same = client.post(
        "/report", data={**GOOD, "token": token}, headers={"Origin": "http://testserver"}
    )
    assert same.status_code == 303


def _receive(web, urls, **fields):
    answer = web.client().post("/api/public-reports", json={"urls": urls, "seen": "A1", **fields})
    assert answer.status_code == 201, answer.text
    with web.store.session() as session:
        return session.scalars(
            select(Submission.id).where(Submission.reference == answer.json()["reference"])
        ).all()


def test_an_assessment_makes_a_report_or_closes_and_is_audited(web):
    [first] = _receive(web, ["http://bad.example/1.jpg"])
    [again] = _receive(web, ["http://bad.example/1.jpg"])  # two sightings, one assessment
    [harmless] = _receive(web, ["http://fine.example/"])
    with web.store.session() as session:
        done = assess(session, first, "national", analyst="ann", reviews_needed=1, now=utcnow())
        closed = assess(session, harmless, "not-illegal", analyst="ann", now=utcnow())
    assert done.done and done.submissions == [first, again] and closed.report_id is None
    with web.store.session() as session:
        report = session.get(Report, done.report_id)
        assert (report.state, report.category) == ("queued", "A1")  # what the reporter chose
        rows = {r.id: r for r in session.scalars(select(Submission))}
        assert rows[again].report_id == report.id and rows[again].verdict == "national"
        assert rows[harmless].state == "assessed" and rows[harmless].verdict == "not-illegal"
        events = session.scalars(select(Event).where(Event.action == "assessed")).all()
    assert [(e.actor, e.report_id) for e in events] == [("ann", report.id), ("ann", None)]
    audit = web.browser("admin").get("/admin/audit").text
    assert "assessed" in audit and "not-illegal" in audit
    with web.store.session() as session, pytest.raises(ValueError, match="already assessed"):
        assess(session, again, "baseline", analyst="bob", now=utcnow())


def test_two_analysts_must_agree_when_two_reviews_are_asked(web):
    [sid] = _receive(web, ["http://two.example/"])
    with web.store.session() as session:
        steps = [
            assess(session, sid, "baseline", analyst="ann", reviews_needed=2, now=utcnow()),
            assess(session, sid, "baseline", analyst="ann", reviews_needed=2, now=utcnow()),
            assess(session, sid, "not-illegal", analyst="bob", reviews_needed=2, now=utcnow()),
            assess(session, sid, "baseline", analyst="bob", reviews_needed=2, now=utcnow()),
        ]
    assert [(s.done, s.agreeing) for s in steps] == [(False, 1), (False, 1), (False, 1), (True, 2)]
    with web.store.session() as session:
        row = session.get(Submission, sid)
        assert (
            row.assessed_by == "ann, bob"
            and session.get(Report, row.report_id).category == "baseline"
        )


def test_a_bad_assessment_names_the_problem_and_changes_nothing(ntd, web):
    [sid] = _receive(web, ["http://x.example/"], seen="not-sure")
    answer = ntd("assess", str(sid), "--as", "national")
    assert answer.exit_code == 1 and "a national assessment needs a category" in answer.output
    answer = ntd("assess", str(sid), "--as", "not-found", "--police")
    assert answer.exit_code == 1 and "only content assessed illegal" in answer.output
    assert ntd("assess", "999", "--as", "baseline").exit_code == 1
    assert count(web.store, Report) == 0
    listed = json.loads(ntd("submissions", "--json").output)
    assert [e["id"] for e in listed] == [sid] and listed[0]["reviews"] == []
    made = ntd("assess", str(sid), "--as", "national", "--category", "B2", "--police")
    assert made.exit_code == 0 and "notices held for the police" in made.output


def test_a_police_hold_stops_notices_until_cleared_and_the_reporter_hears_twice(mailroom, ntd):
    world, smtp = mailroom.world, mailroom.smtp
    web = Web(world.database_url)
    try:
        site = mailroom.site
        site.page("/held.jpg")
        [sid] = _receive(web, [site.url("/held.jpg")], email="reporter@public.test")
        with world.store.session() as session:
            done = assess(session, sid, "baseline", analyst="ann", police_first=True, now=utcnow())
        report_id = done.report_id
        world.check([report_id])
        assert world.state(report_id) == "online"
        mailroom.host(report_id, "abuse@host.test")
        mailroom.notify()
        to = [r.recipients for r in smtp.received]
        assert ("abuse@host.test",) not in to  # held: no notice
        [assessed] = [r.message for r in smtp.received if r.recipients == ("reporter@public.test",)]
        with world.store.session() as session:
            reference = session.get(Submission, sid).reference
        _no_url(assessed, site, reference)
        shown = json.loads(ntd("show", str(report_id), "--json").output)["police_hold"]
        assert shown["active"] and shown["cleared_at"] is None and shown["expires_at"] is None

        assert (
            ntd("police", "clear", str(report_id), "--note", "cleared by the vice squad").exit_code
            == 0
        )
        world.check([report_id])  # the clearance made it due; still online
        mailroom.notify()
        assert ("abuse@host.test",) in [r.recipients for r in smtp.received]
        shown = json.loads(ntd("show", str(report_id), "--json").output)
        assert (
            not shown["police_hold"]["active"] and shown["police_hold"]["cleared_by"] == "analyst1"
        )
        assert [s["reference"] for s in shown["submissions"]] == [reference]

        site.take_down("/held.jpg")
        world.check([report_id])
        assert world.state(report_id) == "removed"
        mailroom.notify()
        mine = [r.message for r in smtp.received if r.recipients == ("reporter@public.test",)]
        assert len(mine) == 2 and "has been removed" in mine[1]["Subject"]
        _no_url(mine[1], site, reference)
        mailroom.notify()  # nothing more, and the address is gone
        assert len([r for r in smtp.received if r.recipients == ("reporter@public.test",)]) == 2
        with world.store.session() as session:
            assert session.get(Submission, sid).email is None
        figures_now = figures(world.store, 1)["submissions"]
        assert figures_now["received"] == 1 and figures_now["actionable_share"] == 1.0
        assert figures_now["median_time_to_assessment_s"] >= 0
        assert figures_now["median_time_from_assessment_to_first_notice_s"] > 0
    finally:
        web.close()


def test_a_hold_ends_by_itself_after_the_clearance_timeout(mailroom):
    world, smtp = mailroom.world, mailroom.smtp
    [report_id] = mailroom.online("abuse@slow.test")
    with world.store.session() as session:
        police.hold(session, session.get(Report, report_id), actor="ann", now=utcnow())
    mailroom.notify(police_clearance_timeout="1h")
    assert not [r for r in smtp.received if "abuse@slow.test" in r.recipients]
    with world.store.session() as session:  # an hour and a bit later
        session.execute(
            update(Report).values(police_hold_at=utcnow() - timedelta(hours=1, seconds=5))
        )
    mailroom.notify(police_clearance_timeout="1h")
    assert [r for r in smtp.received if "abuse@slow.test" in r.recipients]
    with world.store.session() as session:
        view = police_view(session, report_id, timedelta(hours=1))
    assert not view["active"] and view["cleared_at"] is None and view["expires_at"]


def test_reporters_details_are_erased_after_reporter_retention_and_statistics_stay(web):
    [sid] = _receive(web, ["http://old.example/"], email="old@public.test", text="my words")
    [new] = _receive(web, ["http://new.example/"], email="new@public.test")
    with web.store.session() as session:
        session.execute(
            update(Submission)
            .where(Submission.id == sid)
            .values(received_at=utcnow() - timedelta(days=91))
        )
    before = figures(web.store, 1)

    def purged(session, dry_run: bool):
        year, month, quarter = (timedelta(days=d) for d in (365, 30, 90))
        return purge(
            session,
            utcnow(),
            year,
            month,
            actor="test",
            dry_run=dry_run,
            reporter_retention=quarter,
        )

    with web.store.session() as session:
        counted, done = purged(session, True), purged(session, False)
    assert counted.reporters == done.reporters == 1
    with web.store.session() as session:
        old, kept = session.get(Submission, sid), session.get(Submission, new)
        assert (old.email, old.description, old.client_digest) == (None, None, None)
        assert old.erased_at is not None and old.url == "http://old.example/"
        assert kept.email == "new@public.test"
    assert figures(web.store, 1) == before


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    urls=st.one_of(
        st.text(max_size=300), st.lists(st.text(max_size=80), max_size=25), st.none(), st.integers()
    ),
    seen=st.one_of(
        st.sampled_from(["A1", "baseline", "not-sure", "", "Z"]), st.text(max_size=20), st.none()
    ),
    text=st.one_of(st.none(), st.text(max_size=2100)),
    email=st.one_of(st.none(), st.emails(), st.text(max_size=60)),
)
def test_any_public_report_is_stored_whole_or_refused_whole(web, urls, seen, text, email):
    before = count(web.store)
    body = {"urls": urls, "seen": seen, "text": text, "email": email}
    answer = web.client().post("/api/public-reports", json=body)
    assert answer.status_code in (201, 400, 429), answer.text
    stored = count(web.store) - before
    if answer.status_code == 201:
        assert stored == answer.json()["urls"] >= 1
    else:
        assert stored == 0 and "error" in answer.json()
    with web.store.session() as session:  # the limit must not end the examples
        session.execute(update(Submission).values(client_digest=None))


def police_view(session, report_id, timeout):
    from store.views import hold_view

    return hold_view(session.get(Report, report_id), timeout, utcnow())


def _no_url(message, site, reference):
    text = message.as_string()
    assert reference in message["Subject"] and reference in text
    assert site.name not in text and "http" not in text.lower() and site.address not in text
    assert message["From"].endswith(f"<{IDENTITY['mail_from']}>")


def test_a_hold_also_keeps_back_a_notice_already_waiting_and_clearance_waits_for_a_check(
    mailroom,
):
    world, smtp = mailroom.world, mailroom.smtp
    smtp.refuse("abuse@late.test", "451 4.3.0 try later")
    [report_id] = mailroom.online("abuse@late.test")
    mailroom.notify()  # planned, deferred: it waits to be tried again
    with world.store.session() as session:
        police.hold(session, session.get(Report, report_id), actor="ann", now=utcnow())
    smtp.accept("abuse@late.test")
    mailroom.notify()
    assert not [r for r in smtp.received if "abuse@late.test" in r.recipients]
    with world.store.session() as session:
        police.clear(session, session.get(Report, report_id), actor="ann", now=utcnow())
    mailroom.notify()  # cleared, but no check since: the content may be gone
    assert not [r for r in smtp.received if "abuse@late.test" in r.recipients]
    world.check([report_id])
    mailroom.notify()
    assert [r for r in smtp.received if "abuse@late.test" in r.recipients]


def test_an_expired_hold_can_be_placed_again(web):
    added = web.api("analyst").post("/api/reports", json={"urls": ["http://again.example/"]})
    report_id = added.json()["accepted"][0]["id"]
    hour = timedelta(hours=1)
    with web.store.session() as session:
        report = session.get(Report, report_id)
        assert police.hold(session, report, actor="ann", now=utcnow() - 2 * hour, timeout=hour)
        assert police.hold(session, report, actor="ann", now=utcnow(), timeout=hour)
        assert not police.hold(session, report, actor="ann", now=utcnow(), timeout=hour)


def test_odd_public_input_is_a_clear_400_never_a_500(web):
    client = web.client()
    surrogate = client.post(
        "/api/public-reports",
        content=b'{"urls": ["http://a.example/"], "seen": "A1", "text": "hi \\ud800"}',
        headers={"Content-Type": "application/json"},
    )
    assert surrogate.status_code == 400 and "text" in surrogate.json()["fields"]
    deep = client.post(
        "/api/public-reports", content=b"[" * 100000, headers={"Content-Type": "application/json"}
    )
    assert deep.status_code == 400
    for token in ("\u00b2.abc", "9" * 5000 + ".ab"):
        assert client.post("/report", data={**GOOD, "token": token}).status_code == 403
    wide = client.post("/api/public-reports", json={**GOOD, "email": "j\u00fcrgen@example.de"})
    assert wide.status_code == 400 and "email" in wide.json()["fields"]
    analyst = web.browser("analyst")
    huge = analyst.post("/assess/99999999999999999999", data={"csrf": analyst.csrf})
    assert huge.status_code == 404 and "There is no submission" in huge.text
    assert count(web.store) == 0


def test_feedback_never_tells_a_url_was_already_known(web):
    web.api("analyst").post("/api/reports", json={"urls": ["http://known.example/k.jpg"]})
    _receive(web, ["http://known.example/k.jpg"], email="someone@public.test")
    from notifier import feedback
    from notifier.drafts import Hotline

    with web.store.session() as session:
        assert feedback.due(session, utcnow()) == []  # not at once: that would tell
        owed = feedback.due(session, utcnow() + timedelta(days=1, minutes=1))
    assert [(f.kind, f.illegal, f.other) for f in owed] == [("assessed", 1, 0)]
    text = feedback.message(
        Hotline(name="H", mail_from="h@h.test", country="NL", legal_basis="x"), owed[0], utcnow()
    ).as_string()
    assert "knew" not in text and "known" not in text


def test_a_waiting_public_report_becomes_a_sighting_when_staff_track_its_url(web):
    """Staff add a URL that a public report gave and no analyst has assessed yet: it is a
    sighting of the new report, as if the URL had been tracked when it came, and leaves
    the assessment queue. A URL no report tracks still waits."""
    [waiting] = _receive(web, ["http://later.example/x.jpg"])
    [other] = _receive(web, ["http://other.example/"])
    added = web.api("analyst").post(
        "/api/reports", json={"urls": ["http://LATER.example/x.jpg#top"]}
    )
    report_id = added.json()["accepted"][0]["id"]
    with web.store.session() as session:
        rows = {r.id: r for r in session.scalars(select(Submission))}
        sighting = session.scalar(select(Event).where(Event.action == "sighting"))
        added_by = session.get(Report, report_id).created_by
    assert (rows[waiting].state, rows[waiting].report_id) == ("duplicate", report_id)
    assert (rows[other].state, rows[other].report_id) == ("pending", None)
    assert sighting.report_id == report_id and sighting.actor == added_by
    assert f"submission {waiting}" in sighting.detail
    assert web.browser("analyst").get("/assess").text.count('class="submission"') == 1
    shown = web.api("analyst").get(f"/api/reports/{report_id}").json()
    assert [s["state"] for s in shown["submissions"]] == ["duplicate"]
    with web.store.session() as session, pytest.raises(ValueError, match="already duplicate"):
        assess(session, waiting, "national", analyst="ann", now=utcnow())
