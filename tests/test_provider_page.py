"""The provider page, ``/p/TOKEN``: the link in a notice, the answers on it, and what a
"Removed" click may and may not do."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select, update

from store.models import Event, ProviderAction, ProviderLink
from store.types import utcnow
from tests.test_web_support import Web, cheap_passwords

PUBLIC = "https://ntd.hotline.test"


@pytest.fixture
def web(world, monkeypatch):
    cheap_passwords(monkeypatch)
    web = Web(world.database_url, public_url=PUBLIC, provider_answers_per_hour="4")
    yield web
    web.close()


def link_in(received) -> str:
    text = received.message.get_body(("plain",)).get_content()
    [link] = re.findall(re.escape(PUBLIC) + r"/p/[A-Za-z0-9_-]+", text)
    return link.removeprefix(PUBLIC)


def moment(iso: str) -> datetime:
    return datetime.fromisoformat(iso.replace("Z", "+00:00"))


def form_token(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


def sent_with_link(mailroom, contact: str, n: int = 1) -> tuple[list[int], str]:
    ids = mailroom.online(contact, n)
    mailroom.notify(public_url=PUBLIC)
    return ids, link_in(mailroom.smtp.to(contact)[-1])


def test_the_link_opens_that_notice_s_reports_only_as_text(mailroom, web):
    (first, second), path = sent_with_link(mailroom, "abuse@host.test", 2)
    [other], _ = sent_with_link(mailroom, "abuse@other.test")
    page = web.client().get(path)
    assert page.status_code == 200
    assert page.headers["content-security-policy"].startswith("default-src 'none'")
    assert page.headers["cache-control"] == "no-store"
    for report in (first, second):
        url = mailroom.world.show(report)["canonical_url"]
        assert f'<td class="url">{url}</td>' in page.text
        assert f'href="{url}"' not in page.text
    assert f'id="report-{other}"' not in page.text
    assert mailroom.world.show(other)["canonical_url"] not in page.text
    # The token is stored only as its hash.
    with mailroom.world.store.session() as session:
        hashes = session.scalars(select(ProviderLink.token_hash)).all()
    assert path.removeprefix("/p/") not in hashes and len(hashes) == 2


def test_removed_makes_it_due_and_only_a_check_sets_removed(mailroom, web):
    world = mailroom.world
    (up, down), path = sent_with_link(mailroom, "abuse@host.test", 2)
    client = web.client()
    token = form_token(client.get(path).text)
    before = utcnow()
    for report in (up, down):
        answer = client.post(path, data={"csrf": token, "report": report, "action": "removed"})
        assert answer.status_code == 303
        shown = world.show(report)
        assert shown["state"] == "online"  # a click never removes
        assert moment(shown["next_check_at"]) <= utcnow()
        assert [a["action"] for a in shown["provider_actions"]] == ["removed"]
        assert moment(shown["notices"][0]["answered_at"]) >= before.replace(microsecond=0)
    mailroom.site.take_down(f"/{2}.jpg", status=404)  # the second report's page goes
    world.check()
    assert world.state(up) == "online"  # the claim is recorded, nothing more
    assert world.state(down) == "removed"
    with world.store.session() as session:
        by_provider = session.scalars(
            select(Event.action).where(Event.actor == "provider").order_by(Event.id)
        ).all()
    assert by_provider == ["provider_removed", "provider_removed"]
    assert "Answered: removed" in client.get(path).text


def test_not_our_customer_and_questions_reach_the_inbox_escaped(mailroom, web):
    (report,), path = sent_with_link(mailroom, "abuse@host.test")
    client = web.client()
    token = form_token(client.get(path).text)
    client.post(path, data={"csrf": token, "report": report, "action": "not_our_customer"})
    question = "<script>alert(1)</script> Which file do you mean?"
    answer = client.post(
        path, data={"csrf": token, "report": report, "action": "question", "text": question}
    )
    assert answer.status_code == 303
    inbox = web.browser("analyst").get("/inbox")
    assert "not our customer" in inbox.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt; Which file do you mean?" in inbox.text
    assert "<script>" not in inbox.text
    shown = mailroom.world.show(report)
    assert [a["action"] for a in shown["provider_actions"]] == ["not_our_customer", "question"]


def test_bad_answers_are_refused_and_nothing_is_stored(mailroom, web):
    (report,), path = sent_with_link(mailroom, "abuse@host.test")
    [other], _ = sent_with_link(mailroom, "abuse@other.test")
    client = web.client()
    token = form_token(client.get(path).text)
    cases = [
        ({"report": report, "action": "removed"}, 403, "did not come from this page"),
        ({"csrf": "x" * 64, "report": report, "action": "removed"}, 403, "reload it"),
        ({"csrf": token, "report": other, "action": "removed"}, 400, "not one of this notice"),
        ({"csrf": token, "report": report, "action": "delete"}, 400, "is not an answer"),
        ({"csrf": token, "report": report, "action": "question"}, 400, "write the question"),
        (
            {"csrf": token, "report": report, "action": "question", "text": "?" * 2001},
            400,
            "at most 2,000",
        ),
        ({"csrf": token, "report": "x", "action": "removed"}, 400, "names no report"),
    ]
    for data, status, words in cases:
        answer = client.post(path, data=data)
        assert answer.status_code == status, (data, answer.text)
        assert words in answer.text.replace("&#39;", "'"), answer.text
    with mailroom.world.store.session() as session:
        assert session.scalar(select(func.count()).select_from(ProviderAction)) == 0
    assert mailroom.world.show(report)["notices"][0]["answered_at"] is None


def test_unknown_and_expired_links_and_too_many_answers(mailroom, web):
    (report,), path = sent_with_link(mailroom, "abuse@host.test")
    client = web.client()
    assert client.get("/p/not-a-token").status_code == 404
    token = form_token(client.get(path).text)
    for _ in range(4):  # PROVIDER_ANSWERS_PER_HOUR
        data = {"csrf": token, "report": report, "action": "question", "text": "hello?"}
        assert client.post(path, data=data).status_code == 303
    refused = client.post(path, data=data)
    assert refused.status_code == 429
    assert 3000 < int(refused.headers["retry-after"]) <= 3600
    with mailroom.world.store.session() as session:
        session.execute(update(ProviderLink).values(expires_at=utcnow() - timedelta(seconds=1)))
    expired = client.get(path)
    assert expired.status_code == 410 and "reply to the notice by email" in expired.text


def test_without_public_url_notices_carry_no_link(mailroom, smtp):
    mailroom.online("abuse@host.test")
    mailroom.notify()
    text = smtp.received[0].message.get_body(("plain",)).get_content()
    assert "/p/" not in text
    with mailroom.world.store.session() as session:
        assert session.scalar(select(func.count()).select_from(ProviderLink)) == 0
