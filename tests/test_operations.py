"""Running it for real: /healthz, /metrics, JSON logs, the systemd units, `ntd doctor`."""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import smtplib
import socket
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import update
from starlette.testclient import TestClient

from service.process import beat
from simnet.smtp import SmtpServer
from store.db import Store
from store.models import Heartbeat
from store.types import utcnow
from tests.conftest import make_settings, run_ntd
from tests.mailroom import IDENTITY, Mailroom
from tests.mails import reply
from web import create_app

ROOT = Path(__file__).resolve().parent.parent
NTD = Path(sys.executable).with_name("ntd")
TOKEN = "m" * 40


def app_for(database_url: str, store, **settings) -> TestClient:
    app = create_app(make_settings(database_url=database_url, **settings), store)
    return TestClient(app, client=("127.0.0.1", 40000))


def test_healthz_says_ok_only_with_a_store_and_a_recent_leader(store, database_url):
    client = app_for(database_url, store, leader_timeout="30s")
    answer = client.get("/healthz")
    assert answer.status_code == 503
    assert answer.json()["problems"] == ["no scheduler has led yet: is `ntd run` running?"]
    beat(store)
    answer = client.get("/healthz")
    assert answer.status_code == 200 and answer.json()["status"] == "ok"
    assert answer.json()["scheduler"]["holder"].endswith(f":{os.getpid()}")
    with store.session() as session:
        session.execute(update(Heartbeat).values(at=utcnow() - timedelta(minutes=5)))
    stale = client.get("/healthz")
    assert stale.status_code == 503
    assert "no scheduler has led for 300 s (LEADER_TIMEOUT is 30 s)" in stale.json()["problems"][0]


def test_healthz_says_the_store_is_down(guarded_env):
    down = Store("postgresql+psycopg://ntd@127.0.0.1:1/nothing")  # nothing listens there
    try:
        answer = app_for(down.url, down).get("/healthz")
    finally:
        down.close()
    assert answer.status_code == 503
    body = answer.json()
    assert body["store"] == "down" and body["problems"][0].startswith("the store does not answer")


def metrics_of(client: TestClient, **headers) -> dict:
    answer = client.get("/metrics", headers=headers)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/plain; version=")
    found = {}
    for family in text_string_to_metric_families(answer.text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def test_metrics_are_closed_by_default_and_open_to_a_token_or_an_allowed_address(store):
    url = store.url
    assert app_for(url, store).get("/metrics").status_code == 403
    tokened = app_for(url, store, metrics_token=TOKEN)
    assert tokened.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 403
    metrics_of(tokened, Authorization=f"Bearer {TOKEN}")
    metrics_of(app_for(url, store, metrics_allow="127.0.0.0/8"))


def test_metrics_move_after_a_check_pass_a_notify_pass_and_a_reply(world, smtp, ntd):
    mailroom = Mailroom(world, smtp)
    client = app_for(world.database_url, world.store, metrics_allow="127.0.0.1/32")
    before = metrics_of(client)
    assert before[("ntd_leader_up", ())] == 0
    [report] = mailroom.online("abuse@host.test")
    world.check_and_resolve([report])  # as `ntd check` runs it: counted
    mailroom.notify()
    [notice] = smtp.received
    ntd("mail", "ingest", input=reply(notice))
    beat(world.store)
    after = metrics_of(client)
    assert after[("ntd_checks_total", (("outcome", "online"),))] == 1
    assert after[("ntd_notices_total", (("kind", "notice"), ("result", "sent")))] == 1
    assert after[("ntd_inbound_messages_total", (("kind", "reply"), ("result", "stored")))] == 1
    for job in ("check", "notify"):
        assert after[("ntd_pass_duration_seconds_count", (("job", job),))] == 1
        for bound in ("0.1", "1", "3600", "+Inf"):  # every bound, cumulative
            bucket = after[("ntd_pass_duration_seconds_bucket", (("job", job), ("le", bound)))]
            assert bucket <= 1 and (bound != "+Inf" or bucket == 1)
    assert after[("ntd_reports", (("state", "online"),))] == 1
    assert after[("ntd_inbox_unread", ())] == 1
    assert after[("ntd_leader_up", ())] == 1
    assert ("ntd_due_reports", ()) in after and ("ntd_rdap_requests_total", ()) in after


def test_log_lines_hide_urls_at_info_and_below_unless_log_urls(capsys):
    from service.logs import handler

    url = "http://reported.example/picture.jpg"
    for log_urls, shown in (("false", "<url>"), ("true", url)):
        made = handler(make_settings(log_format="json", log_urls=log_urls))
        logger = logging.getLogger(f"ntd.test.{log_urls}")
        logger.addHandler(made)
        logger.propagate = False
        logger.setLevel(logging.INFO)
        logger.info("checked %s", url, extra={"report_id": 7})
        logger.warning("cannot reach %s", url)
        logger.removeHandler(made)
        info, warning = (json.loads(line) for line in capsys.readouterr().err.splitlines())
        assert info["message"] == f"checked {shown}" and info["report_id"] == 7
        assert warning["message"] == f"cannot reach {url}"  # what someone must act on
        assert (info["level"], info["logger"]) == ("info", f"ntd.test.{log_urls}")


def read_lines(process: subprocess.Popen, into: list[str]) -> threading.Thread:
    thread = threading.Thread(target=lambda: into.extend(process.stderr), daemon=True)
    thread.start()
    return thread


def wait_for(lines: list[str], text: str, timeout: float = 30) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(text in line for line in lines):
            return True
        time.sleep(0.05)
    return False


def test_json_logs_of_ntd_run_serve_and_mail_serve_parse_line_by_line(world, guarded_env, tmp_path):
    env = {
        **guarded_env,
        **world.environ(**IDENTITY),
        "NTD_LOG_FORMAT": "json",
        "NTD_CHECK_EVERY": "1s",
        "NTD_NOTIFY_EVERY": "1s",
        "NTD_LEADER_TIMEOUT": "3s",
    }
    commands = {
        "run": (["run"], "leading"),
        "serve": (["serve", "--port", "0"], "Uvicorn running"),
        "mail": (["mail", "serve", "--port", "0"], "LMTP on"),
    }
    for name, (args, ready) in commands.items():
        process = subprocess.Popen(
            [str(NTD), *args], env=env, cwd=tmp_path, stderr=subprocess.PIPE, text=True
        )
        lines: list[str] = []
        reader = read_lines(process, lines)
        try:
            assert wait_for(lines, ready), "".join(lines)
            if name == "mail":
                port = int(re.search(r"LMTP on [\d.]+:(\d+)", "".join(lines))[1])
                with smtplib.LMTP("127.0.0.1", port, local_hostname="mx.test") as lmtp:
                    lmtp.sendmail("a@provider.test", ["x@hotline.test"], b"From: a@b.test\r\n\r\nx")
                assert wait_for(lines, "inbound message")
            time.sleep(0.5)
        finally:
            process.terminate()
            process.wait(timeout=30)
            reader.join(timeout=5)
        parsed = [json.loads(line) for line in lines if line.strip() and line[0] == "{"]
        plain = [line for line in lines if line.strip() and line[0] != "{"]
        assert parsed and plain == [] or name == "mail" and plain[0].startswith("LMTP on")
        assert all({"time", "level", "logger", "message"} <= set(p) for p in parsed)
        if name == "mail":
            stored = next(p for p in parsed if p["message"].startswith("inbound message"))
            assert stored["inbound_id"] == 1


@pytest.mark.skipif(
    shutil.which("systemd-analyze") is None and not os.environ.get("CI"),
    reason="systemd-analyze is not installed (.ci/run installs systemd)",
)
def test_the_systemd_units_verify(tmp_path):
    units = sorted((ROOT / "deploy").glob("*.service"))
    assert [u.name for u in units] == ["ntd-mail.service", "ntd-run.service", "ntd-serve.service"]
    for unit in units:
        text = unit.read_text()
        for needed in ("NoNewPrivileges=yes", "ProtectSystem=strict", "PrivateTmp=yes"):
            assert needed in text, (unit.name, needed)
        assert "Restart=on-failure" in text and "User=ntd" in text
        # As installed, but with this machine's ntd and the example environment file.
        local = text.replace("/opt/ntd/.venv/bin/ntd", str(NTD)).replace(
            "/etc/ntd/ntd.env", str(ROOT / "deploy" / "ntd.env.example")
        )
        (tmp_path / unit.name).write_text(local)
    checked = subprocess.run(
        ["systemd-analyze", "verify", *(str(tmp_path / u.name) for u in units)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert checked.returncode == 0 and checked.stdout + checked.stderr == "", checked.stderr


def test_the_environment_template_names_every_setting_an_operator_must_set():
    template = (ROOT / "deploy" / "ntd.env.example").read_text()
    for name in (
        "DATABASE_URL",
        "MAIL_FROM",
        "HOTLINE_NAME",
        "HOTLINE_COUNTRY",
        "LEGAL_BASIS",
        "SMTP_URL",
        "SECRET_KEY",
        "BOUNCE_ADDRESS",
        "PUBLIC_URL",
        "METRICS_ALLOW",
    ):
        assert re.search(rf"^#? ?NTD_{name}=", template, re.M), name


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_doctor_passes_against_a_working_setup_and_names_the_fix_of_a_dead_smtp(
    world, guarded_env, tmp_path
):
    with SmtpServer() as smtp:
        env = {
            **guarded_env,
            **world.environ(**IDENTITY, smtp_url=smtp.url, public_url="https://ntd.test"),
        }
        healthy = run_ntd("doctor", env=env, cwd=tmp_path)
        out = healthy.stdout.decode()
        assert healthy.returncode == 0, out + healthy.stderr.decode()
        for name in ("store", "identity", "public", "dns", "rdap", "smtp"):
            assert re.search(rf"^ok\s+{name}\s", out, re.M), (name, out)
        assert out.rstrip().endswith("all 6 checks passed")
        assert smtp.received == []  # it sent nothing
    assert world.rdap.requests and all(r.path == "/help" for r in world.rdap.requests)
    dead = {**env, "NTD_SMTP_URL": f"smtp://127.0.0.1:{closed_port()}"}
    sick = run_ntd("doctor", env={**dead, "NTD_HOTLINE_NAME": ""}, cwd=tmp_path)
    out = sick.stdout.decode()
    assert sick.returncode == 1
    assert re.search(r"^FAIL\s+smtp\s+cannot reach the mail server 127\.0\.0\.1:\d+", out, re.M)
    assert "fix: start the mail server at 127.0.0.1:" in out
    assert re.search(r"^FAIL\s+identity\s+HOTLINE_NAME not set", out, re.M)
    assert "2 of 6 checks failed: identity, smtp" in out
