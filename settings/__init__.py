"""The one typed settings object, and how it is loaded.

Every setting is declared once below, with its default and its meaning. Defaults are
written as text and go through the same parser as the environment, so a default can
never be a value a user could not write. Sources, later ones winning:

1. the defaults declared here;
2. a TOML file named by ``NTD_SETTINGS`` (keys are the setting names in lower case);
3. environment variables ``NTD_<NAME>``.

``load()`` validates everything once, at start, and raises ``SettingsError`` naming the
setting, where the value came from, and what a good value looks like.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from ipaddress import IPv4Network, IPv6Network
from typing import Any

from settings import parse
from settings.exceptions import SettingsError

__all__ = ["Settings", "SettingsError", "load", "declared"]

# Environment variables of ours that are not settings.
NOT_SETTINGS = {"NTD_SETTINGS", "NTD_PASSWORD", "NTD_ACTOR"}


def setting(default: str, parser: Callable[[Any], Any], help: str) -> Any:
    return field(
        default=parser(default), metadata={"parser": parser, "help": help, "default": default}
    )


@dataclass(frozen=True)
class Settings:
    """Every setting of the product. Attribute names are the setting names in lower case."""

    def __deepcopy__(self, memo) -> Settings:
        """Immutable all through (frozen, and tuples where a setting has many values), so
        a copy is itself: Scrapy deep-copies every setting for every crawl, this one with
        the rest, once a pass (about 5 ms of a pass of one report)."""
        return self

    database_url: str = setting(
        "sqlite:///var/ntd.sqlite3",
        parse.database_url,
        "SQLAlchemy URL of the store. A relative SQLite path is taken from the working "
        "directory. Use postgresql+psycopg://user@host/db for several workers.",
    )
    dns_nameservers: tuple[tuple[str, int], ...] = setting(
        "",
        parse.nameservers,
        "ip[:port] list used by every DNS look-up, the crawler's included. "
        "Empty means the system resolver's nameservers.",
    )
    rdap_url: str | None = setting(
        "",
        parse.http_url,
        "One base URL for every RDAP request (/ip/, /entity/, /domain/). Empty means the "
        "registries' own RDAP services, found through the IANA bootstrap data.",
    )
    smtp_url: str | None = setting(
        "",
        parse.smtp_url,
        "smtp://[user:pass@]host:port[?starttls=1], or smtps://... for implicit TLS. "
        "Empty means notices are written as .eml files to OUTBOX_DIR.",
    )
    outbox_dir: str = setting(
        "var/outbox", parse.text, "Where notices go, as .eml files of mode 0600, without SMTP."
    )
    mail_from: str | None = setting(
        "", parse.email, "The hotline's sending address. Needed before any notice goes out."
    )
    hotline_name: str | None = setting(
        "", parse.optional_text, "The hotline's name, shown in notices and the User-Agent."
    )
    hotline_country: str | None = setting(
        "", parse.country, "The hotline's own country, ISO 3166 alpha-2."
    )
    reply_to: str | None = setting(
        "", parse.email, "Where providers' answers to notices go; empty means MAIL_FROM."
    )
    legal_basis: str = setting(
        "This notice is sent by a member hotline of the INHOPE network. The material at the "
        "addresses below has been assessed by trained analysts as child sexual abuse material, "
        "which is illegal to host or distribute. Please remove it without delay and preserve "
        "any related records for law enforcement.",
        parse.text,
        "The legal-basis text every notice carries; write your own jurisdiction's.",
    )
    templates_dir: str | None = setting(
        "",
        parse.optional_text,
        "A folder of Jinja2 notice templates that override the packaged ones, e.g. to "
        "translate them.",
    )
    smtp_timeout: timedelta = setting("30s", parse.duration, "Time limit of one SMTP session.")
    smtp_retry: timedelta = setting(
        "5m",
        parse.duration,
        "First wait before a notice the mail server deferred (4xx) or could not take is "
        "tried again; it doubles with each try.",
    )
    default_category: str = setting(
        "baseline",
        parse.category,
        "Category of reports added without one: baseline, A1, A2, B1 or B2.",
    )
    allowed_private_networks: tuple[IPv4Network | IPv6Network, ...] = setting(
        "",
        parse.networks,
        "CIDRs that may be fetched and looked up although private or loopback (labs, tests).",
    )
    fetch_timeout: timedelta = setting("30s", parse.duration, "Time limit of one fetch.")
    recheck_interval: timedelta = setting(
        "6h", parse.duration, "How often an online or unreachable report is re-checked."
    )
    reappearance_interval: timedelta = setting(
        "24h", parse.duration, "How often a removed report is re-checked for reappearance."
    )
    reappearance_window: timedelta = setting(
        "30d", parse.duration, "For how long after removal a report is re-checked."
    )
    reminder_interval: timedelta = setting(
        "24h", parse.duration, "Time after a notice before a reminder."
    )
    escalate_after: int = setting(
        "2",
        parse.integer,
        "Reminders before escalating to the upstream network, registrar or CDN.",
    )
    removal_confirmations: int = setting(
        "2",
        parse.positive_integer,
        "error checks in a row, at least RECHECK_INTERVAL apart, before a report is removed.",
    )
    outage_probe_name: str = setting(
        ".",
        parse.text,
        "Name our resolver is asked before each pass; a timeout or SERVFAIL holds the pass back.",
    )
    outage_min_checks: int = setting(
        "20", parse.integer, "Checks a pass needs before OUTAGE_SHARE can hold it back."
    )
    outage_share: float = setting(
        "0.5",
        parse.fraction,
        "Share of error or nxdomain checks in a pass that holds back its state changes.",
    )
    max_body_bytes: int = setting(
        "16MiB", parse.size, "Download cap per check; a longer body is hashed as far as here."
    )
    concurrency: int = setting("128", parse.positive_integer, "Fetches in flight per worker.")
    concurrency_per_host: int = setting(
        "8", parse.positive_integer, "Fetches in flight per registered domain, per worker."
    )
    fetch_delay: timedelta = setting(
        "0s", parse.duration, "Pause between two fetches from one registered domain."
    )
    user_agent: str | None = setting(
        "",
        parse.optional_text,
        "Sent with every fetch. Empty means one naming the product and HOTLINE_NAME.",
    )
    robots_txt_obey: bool = setting(
        "false",
        parse.boolean,
        "Whether to follow robots.txt. Off: verifying a report is not crawling a site, and "
        "a robots.txt must not hide abuse material from its verification.",
    )
    dns_timeout: timedelta = setting("5s", parse.duration, "Time limit of one DNS look-up.")
    rdap_rate: float = setting(
        "1/s",
        parse.rate,
        "Requests per second from each worker to each RDAP server (N/s, N/m or N/h).",
    )
    rdap_cache_ttl: timedelta = setting(
        "7d", parse.duration, "How long an RDAP answer is kept for its network prefix."
    )
    lease_ttl: timedelta = setting(
        "10m", parse.duration, "How long a worker holds the reports it claimed."
    )
    database_retries: int = setting(
        "3",
        parse.integer,
        "How many times a pass tries a write again, on a fresh connection, when the "
        "database connection failed or stayed locked; then the pass stops with an error.",
    )
    database_retry: timedelta = setting(
        "1s",
        parse.duration,
        "First wait before a pass's failed database write is tried again; it doubles with "
        "each try.",
    )
    sqlite_busy_timeout: timedelta = setting(
        "30s",
        parse.duration,
        "How long a write to a SQLite store waits for another writer's lock before it "
        "fails (a pass's write is then tried again, DATABASE_RETRIES).",
    )
    check_every: timedelta = setting(
        "1m", parse.duration, "How often ntd run starts a verification pass."
    )
    notify_every: timedelta = setting(
        "5m", parse.duration, "How often ntd run starts a notification pass."
    )
    wake_every: timedelta = setting(
        "1s",
        parse.duration,
        "How often `ntd run` looks for work queued to be checked at once (a report added, a "
        're-check asked for, a provider\'s "Removed", a police clearance), to check it then '
        "rather than at CHECK_EVERY; what is queued while a pass runs is checked as that pass "
        "ends. On PostgreSQL a NOTIFY wakes it sooner still. Reports that are simply due "
        "again wait for CHECK_EVERY. 0s: only the intervals.",
    )
    first_notice_window: timedelta = setting(
        "3s",
        parse.duration,
        "How long `ntd run` waits, once a pass found content online that is owed a notice "
        "(new with its contact known, back after a removal, cleared by the police) or "
        "changed a report's state, before notifying: reports found in the same moment go "
        "in one email.",
    )
    leader_timeout: timedelta = setting(
        "30s", parse.duration, "How soon a standby scheduler takes over from a dead leader."
    )
    notice_max_reports: int = setting(
        "500", parse.positive_integer, "Reports per email before a notice is split."
    )
    partner_and_host: bool = setting(
        "false", parse.boolean, "Also notify the host when a partner hotline is notified."
    )
    min_group: int = setting(
        "5", parse.positive_integer, "Smallest group of notified reports that gets statistics."
    )
    stats_references: tuple[tuple[str, float, float], ...] = setting(
        "INHOPE=74%@3d",
        parse.references,
        "Published removal figures drawn on the statistics charts for comparison, as "
        "NAME=SHARE%@TIME items (INHOPE reports 74% removed within 3 days). Empty draws none.",
    )
    partners_file: str | None = setting(
        "",
        parse.optional_text,
        "CSV country,email,name of partner hotlines: reports hosted in a listed country "
        "outside HOTLINE_COUNTRY get a partner notice.",
    )
    secret_key: str | None = setting(
        "",
        parse.secret_key,
        "Key of the HMACs behind Message-IDs, bounce addresses and provider links (at least "
        "32 characters). Empty means a key the store makes on first use and keeps; set it to "
        "keep the key out of the database.",
    )
    bounce_address: str | None = setting(
        "",
        parse.email,
        "Envelope sender of every notice, with a per-notice token after '+' "
        "(bounces+TOKEN@example.org): where bounces and auto-replies arrive. Empty means "
        "MAIL_FROM. Its mailbox must accept plus-addresses and deliver them to ntd.",
    )
    public_url: str | None = setting(
        "",
        parse.public_url,
        "Base URL at which providers reach `ntd serve` (behind a TLS proxy), e.g. "
        "https://ntd.hotline.example. Set, every notice links to a provider page "
        "PUBLIC_URL/p/TOKEN; empty, notices carry no link.",
    )
    provider_link_ttl: timedelta = setting(
        "30d", parse.duration, "How long a notice's provider-page link stays valid."
    )
    provider_answers_per_hour: int = setting(
        "30",
        parse.positive_integer,
        "Most answers one provider-page link takes in an hour; beyond, it answers 429.",
    )
    inbound_text_max: int = setting(
        "4000",
        parse.positive_integer,
        "Characters of an inbound message's plain text that are kept; the rest is cut.",
    )
    inbound_max_bytes: int = setting(
        "25MiB",
        parse.size,
        "Largest inbound message read whole. A larger one is kept by its headers only (pipe, "
        "IMAP) or refused with 552 (LMTP), and never parsed for text.",
    )
    inbound_auto_replies: int = setting(
        "5",
        parse.positive_integer,
        "Auto-replies kept per notice in a day; more are dropped as an auto-responder loop.",
    )
    imap_url: str | None = setting(
        "",
        parse.imap_url,
        "imaps://user:pass@host[:port]/FOLDER (or imap://, ?starttls=1) of a mailbox that "
        "receives bounces and replies. Set, `ntd mail fetch` and `ntd run` take its unseen "
        "messages.",
    )
    imap_done_folder: str | None = setting(
        "",
        parse.optional_text,
        "IMAP folder each stored message is moved to; empty means it is only marked seen.",
    )
    imap_every: timedelta = setting(
        "1m", parse.duration, "How often `ntd run` fetches from IMAP_URL."
    )
    imap_timeout: timedelta = setting("30s", parse.duration, "Time limit of one IMAP command.")
    session_ttl: timedelta = setting(
        "8h",
        parse.duration,
        "How long a dashboard login lasts; after it, the user signs in again.",
    )
    metrics_token: str | None = setting(
        "",
        parse.secret_key,
        "Bearer token (at least 32 characters) a Prometheus scraper sends to read /metrics. "
        "Empty: no token opens it.",
    )
    metrics_allow: tuple[IPv4Network | IPv6Network, ...] = setting(
        "",
        parse.networks,
        "Client addresses (CIDRs) that may read /metrics without a token. Empty: none; "
        "/metrics is never open to the world by default.",
    )
    log_format: str = setting(
        "plain",
        parse.log_format,
        "plain (lines for a person) or json (one JSON object a line, for a log collector), "
        "for `ntd run`, `ntd serve` and `ntd mail serve`.",
    )
    log_urls: bool = setting(
        "false",
        parse.boolean,
        "Let URLs of reported content into log lines at info level and below; by default "
        "each is written as <url>. Warnings and errors keep theirs.",
    )
    reporter_retention: timedelta = setting(
        "90d",
        parse.duration,
        "How long a public report keeps the reporter's email, free text and client digest "
        "(personal data) before `ntd purge` erases them.",
    )
    public_reports_per_hour: int = setting(
        "10",
        parse.positive_integer,
        "Public reports one client address may send in an hour (/report and "
        "POST /api/public-reports); then 429 with Retry-After.",
    )
    assessment_reviews: int = setting(
        "1",
        parse.positive_integer,
        "How many analysts must give a submission the same verdict before it takes effect.",
    )
    police_clearance_timeout: timedelta | None = setting(
        "",
        parse.optional_duration,
        "How long notices for a report held for the police wait before they go out without "
        "a clearance. Empty: they wait until staff record it (`ntd police clear`).",
    )
    retention: timedelta = setting(
        "365d",
        parse.duration,
        "How long a finished report (closed, rejected, or removed past REAPPEARANCE_WINDOW) "
        "keeps its URL, addresses, fingerprints and texts before `ntd purge` erases them; "
        "what the statistics need stays.",
    )
    purge_every: timedelta = setting(
        "1d", parse.duration, "How often `ntd run` purges what is past RETENTION."
    )
    login_failures: int = setting(
        "5",
        parse.positive_integer,
        "Failed sign-ins one account may make before each next try waits, doubling from "
        "LOGIN_BACKOFF.",
    )
    login_address_failures: int = setting(
        "20",
        parse.positive_integer,
        "Failed sign-ins (or unknown bearer tokens) one client address may send, whatever "
        "the accounts, before it waits.",
    )
    login_backoff: timedelta = setting(
        "30s",
        parse.duration,
        "The first wait after too many failures; each failure beyond doubles it, up to "
        "LOGIN_BACKOFF_MAX. A success clears the count.",
    )
    login_backoff_max: timedelta = setting(
        "1h", parse.duration, "The longest wait between tries once throttled."
    )

    def effective_user_agent(self, version: str) -> str:
        if self.user_agent:
            return self.user_agent
        who = f"; {self.hotline_name}" if self.hotline_name else ""
        return f"ntd/{version} (notice-and-takedown verification{who})"


def declared() -> list[dataclasses.Field]:
    """The declared settings, in declaration order."""
    return list(dataclasses.fields(Settings))


def load(environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
    """Read, parse and validate every setting once. ``overrides`` are raw values by field name."""
    environ = os.environ if environ is None else environ
    fields = {f.name: f for f in declared()}
    raw: dict[str, tuple[Any, str]] = {}

    path = environ.get("NTD_SETTINGS")
    if path:
        for key, value in _read_toml(path).items():
            if key not in fields:
                raise SettingsError(f"{path}: {key!r} is not a setting")
            raw[key] = (value, f"{key} in {path}")

    for name, value in environ.items():
        if not name.startswith("NTD_") or name in NOT_SETTINGS:
            continue
        key = name[4:].lower()
        if key not in fields:
            raise SettingsError(f"{name} is not a setting (check the spelling)")
        raw[key] = (value, name)

    for key, value in overrides.items():
        if key not in fields:
            raise SettingsError(f"{key!r} is not a setting")
        raw[key] = (value, key.upper())

    values = {}
    for key, (value, origin) in raw.items():
        parser = fields[key].metadata["parser"]
        try:
            values[key] = parser(value)
        except ValueError as error:
            raise SettingsError(f"{origin}: {error}") from None
    return Settings(**values)


def _read_toml(path: str) -> dict[str, Any]:
    try:
        with open(path, "rb") as file:
            return tomllib.load(file)
    except FileNotFoundError:
        raise SettingsError(f"NTD_SETTINGS: {path} does not exist") from None
    except tomllib.TOMLDecodeError as error:
        raise SettingsError(f"NTD_SETTINGS: {path} is not valid TOML: {error}") from None
