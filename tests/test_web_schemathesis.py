"""Schemathesis against /openapi.json: generated requests, valid and invalid, on every API
operation, and every answer checked against the document that describes it.

All in process, through ASGI: no socket is opened. Each operation is driven on a fresh
store of each kind, with a real admin token made as ``ntd users add`` makes one; what
it queues is thrown away with the store. The seed is fixed and the generation
derandomized, so that a failure here is the same on every run and every machine.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.config import SchemathesisConfig

from store.db import Store
from tests.conftest import make_settings
from tests.test_web_support import Web, cheap_passwords
from web import create_app

CONFIG = {
    "seed": 10,
    "generation": {
        "mode": "all",  # valid requests, and requests that break the schema
        "deterministic": True,
        # The token is the test's to send; the 401s are tests/test_web_auth.py's.
        "with-security-parameters": False,
    },
    # Every built-in check, among them: not a server error, status code, content type
    # and response schema conformance, and valid data accepted, invalid data rejected.
    "operations": [
        {
            # URLs that fit the schema may still all be unacceptable (not http, not a
            # URL), and then PRODUCT.md's answer is a 400 naming each one.
            "include-name": "POST /api/reports",
            "checks": {"positive_data_acceptance": {"expected-statuses": ["2xx", 400]}},
        },
        {
            # Likewise for a public report: "urls" may be any text.
            "include-name": "POST /api/public-reports",
            "checks": {"positive_data_acceptance": {"expected-statuses": ["2xx", 400]}},
        },
    ],
}

# Schemathesis reads the document when this module is imported, before any fixture
# exists, so it reads it from an app of its own, whose store is never opened: serving
# /openapi.json touches none. (schemathesis.pytest.from_fixture, which would wait for the
# fixture, fails under pytest 9.2.)
schema = schemathesis.openapi.from_asgi(
    "/openapi.json",
    create_app(make_settings(), Store("sqlite://")),
    config=SchemathesisConfig.from_dict(CONFIG),
)


@pytest.fixture
def web(database_url, monkeypatch):
    cheap_passwords(monkeypatch)
    web = Web(database_url, public_reports_per_hour="1000000")  # the limit has its own test
    web.user("fuzzer", "admin")
    yield web
    web.close()


@schema.parametrize()
@settings(
    max_examples=100,
    deadline=None,
    derandomize=True,
    # One store per operation, shared by its examples, is what we want.
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_every_answer_is_what_openapi_json_says(case, web):
    token = web.tokens["fuzzer"]
    case.call_and_validate(app=web.app, headers={"Authorization": f"Bearer {token}"})
