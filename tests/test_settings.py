"""Settings: typed, validated once, documented where declared, errors that name the setting."""

from __future__ import annotations

import re
from datetime import timedelta
from ipaddress import ip_network

import pytest
from hypothesis import given
from hypothesis import strategies as st

import settings
from settings import SettingsError, declared, load
from tests.conftest import ROOT, SHARED


def test_every_setting_is_documented_where_declared():
    for field in declared():
        help_text = field.metadata["help"]
        assert len(help_text) > 20, f"{field.name.upper()} has no real help text"


def test_every_setting_is_in_the_readme():
    readme = (ROOT / "README.md").read_text()
    missing = [f.name.upper() for f in declared() if f"`{f.name.upper()}`" not in readme]
    assert missing == []


def test_every_setting_of_the_product_contract_exists():
    product = SHARED / "PRODUCT.md"
    if not product.exists():
        pytest.skip("../shared/PRODUCT.md is not here")
    table = product.read_text().split("## Settings", 1)[1]
    names = set(re.findall(r"`([A-Z][A-Z0-9_]+)`", table)) - {"NTD_SETTINGS"}
    assert names, "no settings found in PRODUCT.md"
    assert names - {f.name.upper() for f in declared()} == set()


def test_defaults_are_those_of_the_product():
    s = load({})
    assert s.recheck_interval == timedelta(hours=6)
    assert s.reappearance_window == timedelta(days=30)
    assert s.max_body_bytes == 16 * 1024 * 1024
    assert (s.concurrency, s.concurrency_per_host) == (128, 8)
    assert (s.outage_probe_name, s.outage_min_checks, s.outage_share) == (".", 20, 0.5)
    assert s.rdap_rate == 1.0
    assert s.smtp_url is None and s.outbox_dir == "var/outbox"
    assert s.database_url.startswith("sqlite:///var/")


def test_database_faults_are_tried_again_on_timings_that_are_settings():
    s = load({})
    assert (s.database_retries, s.database_retry) == (3, timedelta(seconds=1))
    assert s.sqlite_busy_timeout == timedelta(seconds=30)
    s = load({"NTD_DATABASE_RETRIES": "0", "NTD_SQLITE_BUSY_TIMEOUT": "0.3s"})
    assert (s.database_retries, s.sqlite_busy_timeout) == (0, timedelta(seconds=0.3))
    with pytest.raises(SettingsError, match="NTD_DATABASE_RETRY"):
        load({"NTD_DATABASE_RETRY": "soon"})


def test_environment_beats_toml_beats_defaults(tmp_path):
    toml = tmp_path / "ntd.toml"
    toml.write_text(
        'recheck_interval = "15m"\nfetch_timeout = 5\n'
        'allowed_private_networks = ["127.0.0.0/8", "::1/128"]\n'
        'dns_nameservers = ["127.0.0.1:5353"]\npartner_and_host = true\n'
    )
    s = load({"NTD_SETTINGS": str(toml), "NTD_FETCH_TIMEOUT": "90s"})
    assert s.recheck_interval == timedelta(minutes=15)
    assert s.fetch_timeout == timedelta(seconds=90)
    assert s.allowed_private_networks == (ip_network("127.0.0.0/8"), ip_network("::1/128"))
    assert s.dns_nameservers == (("127.0.0.1", 5353),)
    assert s.partner_and_host is True


def test_lists_are_comma_separated_in_the_environment():
    s = load({"NTD_DNS_NAMESERVERS": "127.0.0.1:5353, [::1]:53,127.0.0.2"})
    assert s.dns_nameservers == (("127.0.0.1", 5353), ("::1", 53), ("127.0.0.2", 53))


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("0s", 0),
        ("45", 45),
        ("90s", 90),
        ("15m", 900),
        ("24h", 86400),
        ("7d", 604800),
        ("1.5h", 5400),
    ],
)
def test_durations(value, seconds):
    assert load({"NTD_LEASE_TTL": value}).lease_ttl == timedelta(seconds=seconds)


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"NTD_RECHECK_INTERVAL": "6x"}, "NTD_RECHECK_INTERVAL: '6x' is not a duration"),
        ({"NTD_CONCURRENCY": "0"}, "NTD_CONCURRENCY: must be at least 1"),
        ({"NTD_OUTAGE_SHARE": "1.5"}, "NTD_OUTAGE_SHARE: 1.5 is not a fraction"),
        ({"NTD_ALLOWED_PRIVATE_NETWORKS": "10.0.0.0/33"}, "NTD_ALLOWED_PRIVATE_NETWORKS: '10.0"),
        ({"NTD_DNS_NAMESERVERS": "ns.example"}, "NTD_DNS_NAMESERVERS: 'ns.example' is not an IP"),
        ({"NTD_SMTP_URL": "http://mail"}, "NTD_SMTP_URL: 'http://mail' is not an SMTP URL"),
        ({"NTD_MAIL_FROM": "hotline"}, "NTD_MAIL_FROM: 'hotline' is not an email address"),
        ({"NTD_HOTLINE_COUNTRY": "NLD"}, "NTD_HOTLINE_COUNTRY: 'NLD' is not an ISO 3166"),
        ({"NTD_DEFAULT_CATEGORY": "C9"}, "NTD_DEFAULT_CATEGORY: 'C9' is not a category"),
        ({"NTD_DATABASE_URL": "mysql://x"}, "NTD_DATABASE_URL: 'mysql://x' is not a supported"),
        ({"NTD_MAX_BODY_BYTES": "lots"}, "NTD_MAX_BODY_BYTES: 'lots' is not a size"),
        ({"NTD_RDAP_RATE": "fast"}, "NTD_RDAP_RATE: 'fast' is not a rate"),
        ({"NTD_RECHECK_INTERVALL": "6h"}, "NTD_RECHECK_INTERVALL is not a setting"),
        (
            {"NTD_STATS_REFERENCES": "INHOPE 74%"},
            "NTD_STATS_REFERENCES: 'INHOPE 74%' is not a refer",
        ),
        (
            {"NTD_STATS_REFERENCES": "X=150%@3d"},
            "NTD_STATS_REFERENCES: 'X=150%@3d': the share must",
        ),
    ],
)
def test_a_bad_value_names_the_setting(environ, message):
    with pytest.raises(SettingsError) as error:
        load(environ)
    assert str(error.value).startswith(message)


def test_stats_references_read_as_name_share_and_time():
    assert load({}).stats_references == (("INHOPE", 0.74, 3 * 86400.0),)
    both = load({"NTD_STATS_REFERENCES": "INHOPE=74%@3d, Our target = 90% @ 24h"})
    assert both.stats_references[1] == ("Our target", 0.9, 86400.0)
    assert load({"NTD_STATS_REFERENCES": ""}).stats_references == ()


def test_bad_toml_names_the_file_and_key(tmp_path):
    toml = tmp_path / "ntd.toml"
    toml.write_text("recheck_intervall = '6h'\n")
    with pytest.raises(SettingsError, match=r"ntd.toml: 'recheck_intervall' is not a setting"):
        load({"NTD_SETTINGS": str(toml)})
    toml.write_text("recheck_interval = [1, 2]\n")
    with pytest.raises(SettingsError, match=r"recheck_interval in .*ntd.toml: expected text"):
        load({"NTD_SETTINGS": str(toml)})
    toml.write_text("recheck_interval = \n")
    with pytest.raises(SettingsError, match=r"is not valid TOML"):
        load({"NTD_SETTINGS": str(toml)})


def test_the_user_agent_names_the_product_and_hotline():
    s = load({"NTD_HOTLINE_NAME": "Example Hotline"})
    assert (
        s.effective_user_agent("1.0")
        == "ntd/1.0 (notice-and-takedown verification; Example Hotline)"
    )
    assert load({"NTD_USER_AGENT": "custom"}).effective_user_agent("1.0") == "custom"


@given(
    name=st.sampled_from([f.name.upper() for f in declared()]),
    value=st.text(max_size=40),
)
def test_any_value_is_parsed_or_refused_with_the_setting_named(name, value):
    try:
        loaded = load({f"NTD_{name}": value})
    except SettingsError as error:
        assert str(error).startswith(f"NTD_{name}: ")
    else:
        assert isinstance(loaded, settings.Settings)
