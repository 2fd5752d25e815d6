"""The Scrapy settings of a verification pass, derived from ours.

Everything that could keep content, phone out or listen is off; every limit comes from
our settings, so `ntd check` and `scrapy crawl verify` crawl alike.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from typing import Any

from settings import Settings

# Where our Settings object travels inside Scrapy's settings.
NTD_SETTINGS_KEY = "NTD_SETTINGS_OBJECT"


def _version() -> str:
    try:
        return version("ntd")
    except PackageNotFoundError:
        return "dev"


def scrapy_settings(ntd: Settings) -> dict[str, Any]:
    return {
        NTD_SETTINGS_KEY: ntd,
        "TWISTED_REACTOR": "twisted.internet.asyncioreactor.AsyncioSelectorReactor",
        "TWISTED_DNS_RESOLVER": "crawler.resolver.SafeResolver",
        "DNSCACHE_ENABLED": False,  # the safety resolver judges every connection afresh
        "CONCURRENT_REQUESTS": ntd.concurrency,
        "CONCURRENT_REQUESTS_PER_DOMAIN": ntd.concurrency_per_host,
        "DOWNLOAD_DELAY": ntd.fetch_delay.total_seconds(),
        "DOWNLOAD_DELAY_JITTER": 0,
        "DOWNLOAD_TIMEOUT": ntd.fetch_timeout.total_seconds(),
        "USER_AGENT": ntd.effective_user_agent(_version()),
        "ROBOTSTXT_OBEY": ntd.robots_txt_obey,
        # Nothing kept, nothing listening, nothing fetched on our behalf.
        "HTTPCACHE_ENABLED": False,
        "COOKIES_ENABLED": False,
        "TELNETCONSOLE_ENABLED": False,
        "REMOTE_CONTROL_ENABLED": False,
        "HTTPPROXY_ENABLED": False,
        "ITEM_PIPELINES": {},
        "FEEDS": {},
        "JOBDIR": None,
        "METAREFRESH_ENABLED": False,  # would need the body parsed
        # One reported URL must never be told to another host, even across a redirect.
        "REFERRER_POLICY": "no-referrer",
        # Our fingerprint decodes gzip itself and hashes the decoded body as it streams;
        # without Accept-Encoding most hosts send the body as it is.
        "COMPRESSION_ENABLED": False,
        # Our own cap stops every body and keeps the check; Scrapy's would abort a long
        # Content-Length before any status is seen, leaving nothing to record.
        "DOWNLOAD_MAXSIZE": 0,
        "DOWNLOAD_WARNSIZE": 0,
        # One check is one fetch: ambiguity is what REMOVAL_CONFIRMATIONS is for.
        "RETRY_ENABLED": False,
        "HTTPERROR_ALLOW_ALL": True,
        "REDIRECT_MAX_TIMES": 10,
        "URLLENGTH_LIMIT": 0,  # reported URLs go to 8 KB
        "DUPEFILTER_CLASS": "scrapy.dupefilters.BaseDupeFilter",
        "CONCURRENT_ITEMS": 1,  # no items are yielded; see LIBRARIES.md on its cost
        "LOG_LEVEL": "INFO",
        # CPU per check (bench/verify --profile): every middleware below runs for each
        # request or response and changes nothing for this spider, so each is left out
        # where its setting alone would still run it.
        "SPIDER_MIDDLEWARES": {
            # HTTPERROR_ALLOW_ALL already lets every status through: same without it.
            "scrapy.spidermiddlewares.httperror.HttpErrorMiddleware": None,
            # It only ever adds a Referer; REFERRER_POLICY no-referrer made it add none.
            # Off, no Referer can be sent at all, redirects included.
            "scrapy.spidermiddlewares.referer.RefererMiddleware": None,
            # No request is ever yielded from a response: no depth, no meta copied.
            "scrapy.spidermiddlewares.depth.DepthMiddleware": None,
            "scrapy.spidermiddlewares.metacopy.MetaCopyDetectionMiddleware": None,
        },
        "DOWNLOADER_MIDDLEWARES": {
            # The spider has no allowed_domains and no credentials: both pass all.
            "scrapy.downloadermiddlewares.offsite.OffsiteMiddleware": None,
            "scrapy.downloadermiddlewares.httpauth.HttpAuthMiddleware": None,
        },
        # Scrapy's stats are never read (ntd counts in PassTally) and never shown by
        # `ntd check`; collecting them cost several calls per request.
        "STATS_CLASS": "scrapy.statscollectors.DummyStatsCollector",
        "DOWNLOADER_STATS": False,
        # None of Scrapy's own extensions does anything here: the telnet console, remote
        # control, feeds, memory debugger and auto-throttle are off, stats are not kept,
        # and no CLOSESPIDER_* or MEMUSAGE_* limit is set. They are left out of the base
        # list, not disabled in EXTENSIONS: Scrapy imports every key of both to compare
        # them, and the remote control's module imports aiohttp's web server, a quarter
        # of a second of every run's start-up.
        "EXTENSIONS_BASE": {},
    }
