"""The whole loop through the command line: add, check, notify, take down, check, notify.

Hosting comes from the simulated internet's DNS (Team Cymru records) and RDAP server,
notices go to a real SMTP server; every step is an `ntd` command in a subprocess.
"""

from __future__ import annotations

import json

import jsonschema
import referencing

from simnet.cymru import announce
from simnet.rdap import contact
from simnet.smtp import SmtpServer
from tests.conftest import run_ntd, shared_file


def xarf_validator():
    folder = shared_file("xarf-v4")
    resources = []
    for path in folder.rglob("*.json"):
        schema = json.loads(path.read_text())
        if "$id" in schema:
            resources.append((schema["$id"], referencing.Resource.from_contents(schema)))
    registry = referencing.Registry().with_resources(resources)
    master = json.loads((folder / "xarf-v4-master.json").read_text())
    return jsonschema.Draft202012Validator(master, registry=registry)


def test_add_check_notify_takedown_check_notify(world, guarded_env, tmp_path):
    validator = xarf_validator()
    first = world.net.site("first.test", "127.10.1.1")
    second = world.net.site("second.test", "127.10.2.1")
    for site, network, asn, abuse in (
        (first, "127.10.1.0/24", 64501, "abuse@first-host.test"),
        (second, "127.10.2.0/24", 64502, "abuse@second-host.test"),
    ):
        announce(world.net.dns, site.address, asn, network, country="NL")
        world.rdap.network(network, entities=[contact(f"AB{asn}", ["abuse"], email=abuse)])
        for page in ("a", "b"):
            site.page(f"/{page}.jpg")
    urls = [first.url("/a.jpg"), first.url("/b.jpg"), second.url("/a.jpg"), second.url("/b.jpg")]
    with SmtpServer() as smtp:
        env = {
            **guarded_env,
            "NTD_DATABASE_URL": world.database_url,
            "NTD_DNS_NAMESERVERS": world.net.nameservers[0],
            "NTD_ALLOWED_PRIVATE_NETWORKS": "127.10.0.0/16",
            "NTD_OUTAGE_PROBE_NAME": "probe.test",
            "NTD_RDAP_URL": world.rdap.url,
            "NTD_SMTP_URL": smtp.url,
            "NTD_MAIL_FROM": "notices@hotline.test",
            "NTD_HOTLINE_NAME": "Test Hotline",
            "NTD_HOTLINE_COUNTRY": "NL",
            "NTD_RECHECK_INTERVAL": "0s",
            "NTD_REMINDER_INTERVAL": "0s",
        }

        def ntd(*args):
            result = run_ntd(*args, env=env, cwd=tmp_path)
            assert result.returncode == 0, result.stderr.decode()
            return result.stdout.decode()

        ntd("add", *urls, "--ref", "CASE-1")
        checked = run_ntd("check", env=env, cwd=tmp_path)
        assert checked.returncode == 0, checked.stderr.decode()
        assert "hosting resolved for 4 reports" in checked.stdout.decode()
        assert checked.stderr == b""  # nothing to tell staff: no Scrapy notice, no 404 noise
        ntd("notify")
        notices = smtp.received
        assert sorted(r.recipients[0] for r in notices) == [
            "abuse@first-host.test",
            "abuse@second-host.test",
        ]
        for received in notices:
            parts = [
                p
                for p in received.message.iter_attachments()
                if p.get_content_type() == "application/json"
            ]
            assert len(parts) == 2
            for part in parts:
                validator.validate(json.loads(part.get_content()))

        first.take_down("/a.jpg", status=404)
        ntd("check")
        ntd("notify")
        reminders = smtp.received[len(notices) :]
        assert all("reminder" in r.message["Subject"].lower() for r in reminders)
        reminded = sorted(
            json.loads(p.get_content())["url"]
            for r in reminders
            for p in r.message.iter_attachments()
            if p.get_content_type() == "application/json"
        )
        assert reminded == sorted(urls[1:])

        shown = json.loads(ntd("show", "1", "--json"))
        assert shown["state"] == "removed"
        assert [n["kind"] for n in shown["notices"]] == ["notice"]
        assert shown["hosting"]["abuse_email"] == "abuse@first-host.test"
        shown = json.loads(ntd("show", "2", "--json"))
        assert [(n["kind"], n["status"]) for n in shown["notices"]] == [
            ("notice", "sent"),
            ("reminder", "sent"),
        ]
        assert shown["notices"][0]["message_id"] in {r.message_id for r in notices}
        assert shown["notices"][1]["message_id"] in {r.message_id for r in reminders}
