"""``ntd doctor``: is this configuration one that works? Each check says what it found
and, when it fails, what to change.

It reaches what the settings name (the store, the DNS servers, the RDAP service, the
mail server, the IMAP mailbox) as ntd itself would, and no further: it sends no notice,
stores nothing and fetches no reported URL.
"""

from __future__ import annotations

import asyncio
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import click

from cli import main
from settings import Settings, SettingsError
from store.exceptions import first_line


@dataclass(frozen=True)
class Finding:
    name: str
    ok: bool
    said: str
    fix: str | None = None


@main.command()
def doctor():
    """Check the configuration: store, DNS, RDAP, SMTP, IMAP, identity, PUBLIC_URL."""
    import settings as settings_module

    try:
        settings = settings_module.load()
    except SettingsError as error:
        _print(Finding("settings", False, str(error), "correct it in the TOML file or NTD_*"))
        sys.exit(1)
    findings = [
        _store(settings),
        _identity(settings),
        _public_url(settings),
        _dns(settings),
        _rdap(settings),
        _mail(settings),
    ]
    if settings.imap_url:
        findings.append(_imap(settings))
    for finding in findings:
        _print(finding)
    failed = [f.name for f in findings if not f.ok]
    if failed:
        click.echo(f"\n{len(failed)} of {len(findings)} checks failed: {', '.join(failed)}")
        sys.exit(1)
    click.echo(f"\nall {len(findings)} checks passed")


def _print(finding: Finding) -> None:
    mark = "ok  " if finding.ok else "FAIL"
    click.echo(f"{mark}  {finding.name:<9} {finding.said}")
    if finding.fix and not finding.ok:
        click.echo(f"      fix: {finding.fix}")


def _store(settings: Settings) -> Finding:
    from store.db import current_revision, head_revision, open_store_for

    try:
        store = open_store_for(settings)
    except Exception as error:
        return Finding(
            "store",
            False,
            first_line(error),
            "start the database, or correct DATABASE_URL (postgresql+psycopg://user@host/db)",
        )
    try:
        revision = current_revision(store.engine)
    finally:
        store.close()
    if revision != head_revision():
        return Finding(
            "store",
            False,
            f"reachable, but its schema is at {revision}, not {head_revision()}",
            "run any ntd command against it once as a user who may change the schema",
        )
    return Finding("store", True, f"{store.dialect}, schema at {revision} (the newest)")


def _identity(settings: Settings) -> Finding:
    missing = [
        name
        for name, value in (
            ("MAIL_FROM", settings.mail_from),
            ("HOTLINE_NAME", settings.hotline_name),
            ("HOTLINE_COUNTRY", settings.hotline_country),
        )
        if not value
    ]
    if missing:
        return Finding(
            "identity",
            False,
            f"{', '.join(missing)} not set: no notice can go out",
            "set " + ", ".join(f"NTD_{name}" for name in missing),
        )
    return Finding(
        "identity",
        True,
        f"{settings.hotline_name} ({settings.hotline_country}), from {settings.mail_from}",
    )


def _public_url(settings: Settings) -> Finding:
    if not settings.public_url:
        return Finding("public", True, "PUBLIC_URL not set: notices carry no provider-page link")
    parts = urlsplit(settings.public_url)
    if parts.scheme != "https" and parts.hostname not in ("localhost", "127.0.0.1", "::1"):
        return Finding(
            "public",
            False,
            f"PUBLIC_URL {settings.public_url} is not https: providers' answers would cross "
            "the internet in clear",
            "serve ntd behind a TLS proxy and set PUBLIC_URL=https://…",
        )
    return Finding("public", True, f"provider pages at {settings.public_url.rstrip('/')}/p/…")


def _dns(settings: Settings) -> Finding:
    from hosting.dns import nameservers, resolver_is_failing

    servers = ", ".join(f"{host}:{port}" for host, port in nameservers(settings)) or "none"
    try:
        failing = asyncio.run(resolver_is_failing(settings, settings.outage_probe_name))
    except Exception as error:
        failing = first_line(error)
    if failing:
        return Finding(
            "dns",
            False,
            f"{settings.outage_probe_name} not resolved through {servers}: {failing}",
            "correct DNS_NAMESERVERS, or OUTAGE_PROBE_NAME (a name that always exists)",
        )
    return Finding("dns", True, f"{settings.outage_probe_name} resolved through {servers}")


def _rdap(settings: Settings) -> Finding:
    import aiohttp

    base = (settings.rdap_url or "https://rdap.arin.net/registry").rstrip("/")

    async def ask() -> int:
        timeout = aiohttp.ClientTimeout(total=settings.fetch_timeout.total_seconds())
        async with aiohttp.ClientSession(timeout=timeout) as session:
            # RFC 9082: every RDAP server answers a help query.
            headers = {"Accept": "application/rdap+json"}
            async with session.get(f"{base}/help", headers=headers) as answer:
                return answer.status

    try:
        status = asyncio.run(ask())
    except Exception as error:
        return Finding(
            "rdap",
            False,
            f"{base} does not answer: {first_line(error)}",
            "let this machine reach the registries' RDAP servers over HTTPS, or set RDAP_URL",
        )
    if status >= 500:
        return Finding("rdap", False, f"{base} answers {status}", "retry later, or set RDAP_URL")
    return Finding("rdap", True, f"{base} answers ({status} to a help query)")


def _mail(settings: Settings) -> Finding:
    from notifier.exceptions import TransportDown
    from notifier.transport import Smtp

    if not settings.smtp_url:
        folder = Path(settings.outbox_dir)
        parent = folder if folder.exists() else folder.parent
        if os.access(parent if parent.exists() else Path.cwd(), os.W_OK):
            return Finding("smtp", True, f"SMTP_URL not set: notices go to {folder}/ as .eml")
        return Finding(
            "smtp", False, f"cannot write notices to {folder}", "set OUTBOX_DIR, or SMTP_URL"
        )
    smtp = Smtp(settings.smtp_url, settings.smtp_timeout.total_seconds())
    where = f"{smtp.host}:{smtp.port}"
    try:
        answer = smtp.probe()
    except TransportDown as error:
        return Finding(
            "smtp",
            False,
            str(error),
            f"start the mail server at {where}, or correct SMTP_URL (smtp://host:port, "
            "?starttls=1, smtps:// for implicit TLS, user:pass@ to log in)",
        )
    return Finding("smtp", True, f"{where} accepts a connection ({answer}); nothing was sent")


def _imap(settings: Settings) -> Finding:
    from imapclient.exceptions import IMAPClientError

    from inbound.exceptions import MailboxError
    from inbound.imap import Mailbox, connect

    mailbox = Mailbox.of(settings.imap_url)
    try:
        with connect(mailbox, settings.imap_timeout.total_seconds()) as client:
            client.select_folder(mailbox.folder, readonly=True)
    except (MailboxError, IMAPClientError, OSError) as error:
        return Finding(
            "imap",
            False,
            str(error),
            "correct IMAP_URL (imaps://user:pass@host/INBOX), or the mailbox's password",
        )
    return Finding("imap", True, f"{mailbox} opens")
