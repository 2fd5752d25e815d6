"""Bad input on the way in: broken MIME, 8-bit headers, huge messages, input that is no
mail at all, a store that is down, and random bytes. Each is stored or refused with a
clear reason, never half-stored; and the names that matching trusts cannot be forged."""

from __future__ import annotations

import smtplib
import sys
import uuid
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select, text

from inbound.parse import parse
from notifier.tokens import NoticeNames, tokens_in
from store.db import open_store
from store.models import InboundMessage
from tests.conftest import run_ntd
from tests.imapserver import ImapServer, missing
from tests.mails import LmtpServer

NTD = Path(sys.executable).with_name("ntd")
DOWN = "postgresql+psycopg://ntd@127.0.0.1:1/nothing"  # nothing listens on port 1


def count(store) -> int:
    with store.session() as session:
        return session.scalar(select(func.count()).select_from(InboundMessage))


def rows(store) -> list[InboundMessage]:
    with store.session() as session:
        return session.scalars(select(InboundMessage).order_by(InboundMessage.id)).all()


def test_names_are_deterministic_and_cannot_be_forged():
    names = NoticeNames(b"k" * 32)
    other = NoticeNames(b"j" * 32)
    message_id = names.message_id(42, "hotline.test")
    assert message_id == names.message_id(42, "hotline.test")  # a re-send is the same
    assert names.notice_of_message_id(message_id) == 42
    assert names.notice_of_message_id(message_id.upper()) == 42  # case folded on the way
    assert other.notice_of_message_id(message_id) is None
    assert names.notice_of_message_id(message_id.replace("<ntd-42.", "<ntd-43.")) is None
    address = names.bounce_address(42, "bounces+old@hotline.test")
    assert address.startswith("bounces+ntd-42-") and address.endswith("@hotline.test")
    assert names.notice_of_token(tokens_in(address)) == 42
    assert names.notice_of_token(tokens_in(address).replace("42", "41")) is None
    assert names.notice_of_token("ntd-42-" + "a" * 16) is None
    assert names.provider_token(42) != names.provider_token(43)
    assert names.provider_token(42) != other.provider_token(42)


MALFORMED = {
    "a boundary that never comes": (
        b"From: a@provider.test\r\nSubject: broken\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="nowhere"\r\n\r\njust text, no parts\r\n'
    ),
    "8-bit bytes in headers": (
        b"From: J\xf6rg <j@provider.test>\r\nSubject: Gel\xf6scht \xe2\x9c\x93 [Ticket#9]\r\n"
        b"\r\nDone.\r\n"
    ),
    "a charset nobody knows": (
        b"From: a@provider.test\r\nSubject: =?x-unknown?B?SGVsbG8=?=\r\n"
        b"Content-Type: text/plain; charset=x-klingon\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\n!!! not base64 !!!\r\n"
    ),
    "NUL bytes and a lone CR": b"From: a@provider.test\r\nSubject: a\x00b\rc\r\n\r\nx\x00y\r\n",
    "headers only": b"From: a@provider.test\r\nSubject: nothing below\r\n",
    "nested multiparts with no end": (
        b"From: a@provider.test\r\nContent-Type: multipart/mixed; boundary=a\r\n\r\n"
        b"--a\r\nContent-Type: multipart/alternative; boundary=b\r\n\r\n--b\r\n"
        b"Content-Type: text/html\r\n\r\n<p>Removed<script>x</script></p>\r\n"
    ),
}


@pytest.mark.parametrize("raw", MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_mail_is_stored_as_far_as_it_can_be_read(ntd, store, raw):
    result = ntd("mail", "ingest", input=raw)
    assert result.exit_code == 0, result.output
    assert "stored as message 1: unmatched" in result.output
    [row] = rows(store)
    assert row.from_address.endswith("@provider.test")
    for value in (row.subject, row.text, row.from_address):
        assert value is None or "\x00" not in value


def test_8bit_headers_are_read_as_utf8():
    parsed = parse(MALFORMED["8-bit bytes in headers"], text_max=100)
    assert parsed.subject == "Gel\ufffdscht ✓ [Ticket#9]"  # a Latin-1 byte cannot be UTF-8
    assert parsed.ticket == "Ticket#9"


NOT_MAIL = {
    "nothing": b"",
    "blank lines": b"\r\n\r\n  \r\n",
    "no header": b"hello, this is not a mail message\r\n",
    "a continuation first": b" folded: value\r\n\r\n",
}


@pytest.mark.parametrize("raw", NOT_MAIL.values(), ids=NOT_MAIL.keys())
def test_input_that_is_no_mail_is_refused_with_ex_dataerr(ntd, store, raw):
    result = ntd("mail", "ingest", input=raw)
    assert result.exit_code == 65
    assert "not stored:" in result.output
    assert count(store) == 0


def test_a_store_that_is_down_asks_the_mail_server_to_retry(guarded_env, tmp_path):
    raw = b"From: a@provider.test\r\nSubject: hi\r\n\r\nhello\r\n"
    env = {**guarded_env, "NTD_DATABASE_URL": DOWN, "NTD_DATABASE_RETRIES": "0"}
    result = run_ntd("mail", "ingest", env=env, cwd=tmp_path, input=raw)
    assert result.returncode == 75, result.stderr
    assert b"try again later" in result.stderr
    bad = run_ntd(
        "mail", "ingest", env={**env, "NTD_INBOUND_TEXT_MAX": "-3"}, cwd=tmp_path, input=raw
    )
    assert bad.returncode == 75 and b"INBOUND_TEXT_MAX" in bad.stderr


def test_a_message_over_the_limit_is_kept_by_its_headers(
    database_url, store, guarded_env, tmp_path
):
    head = (
        b"From: big@provider.test\r\nSubject: [Ticket#77] huge\r\nContent-Type: text/plain\r\n\r\n"
    )
    size = 50 * 1024 * 1024
    raw = head + b"x" * (size - len(head))
    env = {**guarded_env, "NTD_DATABASE_URL": database_url}
    result = run_ntd("mail", "ingest", env=env, cwd=tmp_path, input=raw)
    assert result.returncode == 0, result.stderr
    [row] = rows(store)
    assert (row.size, row.subject, row.ticket) == (size, "[Ticket#77] huge", "Ticket#77")
    assert row.text is None and row.attachments is None
    assert "over INBOUND_MAX_BYTES: kept by its headers only" in row.outcome
    again = run_ntd("mail", "ingest", env=env, cwd=tmp_path, input=raw)
    assert again.returncode == 0 and b"already stored as message 1" in again.stderr
    assert count(store) == 1


def test_lmtp_answers_each_recipient_and_refuses_what_it_cannot_take(
    database_url, store, guarded_env, tmp_path
):
    env = {**guarded_env, "NTD_DATABASE_URL": database_url, "NTD_INBOUND_MAX_BYTES": "1MiB"}
    raw = b"From: a@provider.test\r\nSubject: hi\r\n\r\nhello\r\n"
    big = raw + (b"x" * 76 + b"\r\n") * 30_000  # 2.3 MB in lines of 78
    with LmtpServer(env, tmp_path) as server:
        with server.client() as client:
            # RFC 2033: one answer to DATA per recipient (smtplib reads only the first).
            client.ehlo_or_helo_if_needed()
            client.mail("a@provider.test")
            client.rcpt("x@hotline.test")
            client.rcpt("y@hotline.test")
            first = client.data(raw)
            second = client.getreply()
            assert first == second == (250, b"2.0.0 stored as message 1 (unmatched)")
        assert count(store) == 1
        # SIZE is announced in LHLO: a client that says how big is refused at once...
        with server.client() as client, pytest.raises(smtplib.SMTPException, match="552"):
            client.sendmail("a@provider.test", ["x@hotline.test"], big)
        with server.client() as client:
            client.ehlo_or_helo_if_needed()
            del client.esmtp_features["size"]
            # ...and one that does not, after its data.
            with pytest.raises(smtplib.SMTPDataError) as too_much:
                client.sendmail("a@provider.test", ["x@hotline.test"], big)
            assert too_much.value.smtp_code == 552
        with server.client() as client:
            with pytest.raises(smtplib.SMTPDataError) as no_mail:
                client.sendmail("a@provider.test", ["x@hotline.test"], b"no header at all\r\n")
            assert no_mail.value.smtp_code == 554
    assert count(store) == 1
    down = {**env, "NTD_DATABASE_URL": DOWN, "NTD_DATABASE_RETRIES": "0"}
    refused = run_ntd("mail", "serve", "--port", "0", env=down, cwd=tmp_path)
    assert refused.returncode == 1 and b"cannot reach the database" in refused.stderr


@pytest.mark.postgres
def test_lmtp_says_try_again_while_the_store_cannot_take_a_message(
    postgres_admin, guarded_env, tmp_path
):
    from tests.conftest import POSTGRES_URL

    schema = f"t_{uuid.uuid4().hex[:12]}"
    with postgres_admin.connect() as connection:
        connection.execute(text(f"CREATE SCHEMA {schema}"))
    url = f"{POSTGRES_URL}?options=-csearch_path%3D{schema}"
    env = {**guarded_env, "NTD_DATABASE_URL": url, "NTD_DATABASE_RETRIES": "0"}
    raw = b"From: a@provider.test\r\nSubject: hi\r\n\r\nhello\r\n"
    try:
        with LmtpServer(env, tmp_path) as server:
            with postgres_admin.connect() as connection:  # the tables go away under it
                connection.execute(text(f"ALTER SCHEMA {schema} RENAME TO {schema}_away"))
            with server.client() as client, pytest.raises(smtplib.SMTPDataError) as later:
                client.sendmail("a@provider.test", ["x@hotline.test"], raw)
            assert later.value.smtp_code == 451 and b"try again later" in later.value.smtp_error
            with postgres_admin.connect() as connection:
                connection.execute(text(f"ALTER SCHEMA {schema}_away RENAME TO {schema}"))
            with server.client() as client:  # the mail server's retry goes in
                assert client.sendmail("a@provider.test", ["x@hotline.test"], raw) == {}
        store = open_store(url)
        try:
            assert count(store) == 1
        finally:
            store.close()
    finally:
        with postgres_admin.connect() as connection:
            for name in (schema, f"{schema}_away"):
                connection.execute(text(f"DROP SCHEMA IF EXISTS {name} CASCADE"))


@pytest.mark.skipif(missing(), reason="Debian's dovecot-imapd is not installed")
def test_imap_marks_or_moves_only_what_is_stored(database_url, store, guarded_env, tmp_path):
    with ImapServer() as imap:
        for i in range(3):
            imap.deliver(f"From: a@provider.test\r\nSubject: {i}\r\n\r\nhello {i}\r\n".encode())
        imap.deliver(b"not mail at all\r\n")
        down = {**guarded_env, "NTD_DATABASE_URL": DOWN, "NTD_DATABASE_RETRIES": "0"}
        failed = run_ntd("mail", "fetch", env={**down, "NTD_IMAP_URL": imap.url()}, cwd=tmp_path)
        assert failed.returncode == 75, failed.stderr
        with imap.client() as client:
            client.select_folder("INBOX")
            assert len(client.search(["UNSEEN"])) == 4  # nothing was lost or marked
        env = {
            **guarded_env,
            "NTD_DATABASE_URL": database_url,
            "NTD_IMAP_URL": imap.url(),
            "NTD_IMAP_DONE_FOLDER": "Done",
        }
        fetched = run_ntd("mail", "fetch", env=env, cwd=tmp_path)
        assert fetched.returncode == 0, fetched.stderr
        assert fetched.stdout.decode().strip() == (
            "3 stored, 0 already stored, 0 dropped as loops, 1 not mail"
        )
        assert count(store) == 3
        with imap.client() as client:
            client.select_folder("INBOX")
            assert client.search(["UNSEEN"]) == []
            assert len(client.search(["ALL"])) == 1  # the one that is not mail stays, seen
            client.select_folder("Done")
            assert len(client.search(["SEEN"])) == 3
        again = run_ntd("mail", "fetch", env=env, cwd=tmp_path)
        assert again.stdout.startswith(b"0 stored")
        wrong = imap.url().replace(imap.password, "wrong-password")
        refused = run_ntd("mail", "fetch", env={**env, "NTD_IMAP_URL": wrong}, cwd=tmp_path)
        assert refused.returncode == 1
        assert b"cannot log in" in refused.stderr and b"wrong-password" not in refused.stderr
    unset = run_ntd(
        "mail", "fetch", env={**guarded_env, "NTD_DATABASE_URL": database_url}, cwd=tmp_path
    )
    assert unset.returncode == 1 and b"IMAP_URL is not set" in unset.stderr


messages = st.builds(
    lambda headers, body: headers + b"\r\n" + body,
    st.lists(
        st.tuples(
            st.sampled_from([b"From", b"Subject", b"Content-Type", b"In-Reply-To", b"X-Any"]),
            st.binary(max_size=80),
        ),
        max_size=6,
    ).map(lambda pairs: b"".join(name + b": " + value + b"\r\n" for name, value in pairs)),
    st.binary(max_size=400),
)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(raw=st.one_of(st.binary(max_size=300), messages))
def test_random_input_is_stored_whole_or_refused_whole(ntd, store, raw):
    before = count(store)
    result = ntd("mail", "ingest", input=raw)
    assert result.exit_code in (0, 65), result.output
    after = count(store)
    if result.exit_code == 65:
        assert after == before and "not stored:" in result.output
    else:
        stored = "stored as message" in result.output
        assert after == before + (1 if stored else 0)
        assert stored or "already stored" in result.output or "loop" in result.output


def _nested(depth: int) -> bytes:
    raw = b"Subject: innermost\r\n\r\nhello\r\n"
    for _ in range(depth):
        raw = b"Content-Type: message/rfc822\r\n\r\n" + raw
    return b"From: a@provider.test\r\nSubject: deep\r\n" + raw


BUILT_TO_BREAK = {
    # Python's email package recurses on each of these.
    "a From of nested comments": b"From: " + b"(" * 600 + b"a@provider.test\r\n\r\nx\r\n",
    "a thousand enclosed messages": _nested(1000),
    "a NUL in a charset": (
        b'From: a@provider.test\r\nContent-Type: text/plain; charset="utf-8\x00"\r\n\r\nx\r\n'
    ),
}


@pytest.mark.parametrize("raw", BUILT_TO_BREAK.values(), ids=BUILT_TO_BREAK.keys())
def test_mail_built_to_break_the_parser_is_stored_not_retried_forever(ntd, store, raw):
    result = ntd("mail", "ingest", input=raw)
    assert result.exit_code == 0, result.output
    [row] = rows(store)
    assert row.kind == "unmatched"
