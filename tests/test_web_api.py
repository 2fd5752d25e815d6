"""The JSON API as PRODUCT.md fixes it, every answer checked against /openapi.json."""

from __future__ import annotations

import pytest
from jsonschema import Draft202012Validator
from sqlalchemy import select

from store.models import Event, Hosting, Report
from store.types import utcnow
from store.views import report_view
from tests.test_web_support import Web, cheap_passwords, seed_history
from web.api.openapi import SPEC


@pytest.fixture
def web(database_url, monkeypatch):
    cheap_passwords(monkeypatch)
    web = Web(database_url, min_group="3")
    yield web
    web.close()


def conforms(body, schema: str) -> None:
    """``body`` is what /openapi.json says the answer is."""
    root = {"$ref": f"#/components/schemas/{schema}", "components": SPEC["components"]}
    Draft202012Validator(root).validate(body)


def test_queueing_names_the_accepted_and_the_rejected_in_order(web):
    api = web.api("analyst")
    answer = api.post(
        "/api/reports",
        json={
            "urls": ["HTTP://Example.com/b#frag", "gopher://example.com/", "http://example.com/a"],
            "ref": "C-1",
            "category": "A1",
            "sha256": ["a" * 64],
        },
    )
    assert answer.status_code == 201
    assert answer.json() == {
        "accepted": [
            {"id": 1, "canonical_url": "http://example.com/b"},
            {"id": 2, "canonical_url": "http://example.com/a"},
        ],
        "rejected": [
            {"input": "gopher://example.com/", "reason": "scheme 'gopher' is not http or https"}
        ],
    }
    conforms(answer.json(), "QueueResult")
    report = api.get("/api/reports/1").json()
    assert (report["ref"], report["category"], report["sha256"]) == ("C-1", "A1", ["a" * 64])
    assert report["created_by"] == "analyst-api"


def test_nothing_accepted_is_400_with_the_same_body(web):
    urls = ["ftp://x/", "http://exa mple/"]
    answer = web.api("analyst").post("/api/reports", json={"urls": urls})
    assert answer.status_code == 400
    assert [row["input"] for row in answer.json()["rejected"]] == ["ftp://x/", "http://exa mple/"]
    assert answer.json()["accepted"] == []
    conforms(answer.json(), "QueueResult")


MALFORMED = [
    (b"{not json", "the body is not valid JSON"),
    (b"[" * 100_000, "the body is not valid JSON"),
    (b'["http://example.com/"]', "the body must be a JSON object"),
    (b"{}", "urls must be a non-empty list of strings"),
    (b'{"urls": []}', "urls must be a non-empty list of strings"),
    (b'{"urls": "http://example.com/"}', "urls must be a list or null"),
    (b'{"urls": [1]}', "urls must be a non-empty list of strings"),
    (b'{"urls": ["http://e.com/"], "ref": 5}', "ref must be a string or null"),
    (b'{"urls": ["http://e.com/"], "sha256": "ab"}', "sha256 must be a list or null"),
    (b'{"urls": ["http://e.com/\\ud800"]}', "the body holds text that is not valid Unicode"),
]


def test_a_malformed_body_is_400_with_a_clear_error(web):
    api = web.api("analyst")
    for body, error in MALFORMED:
        answer = api.post(
            "/api/reports", content=body, headers={"Content-Type": "application/json"}
        )
        assert answer.status_code == 400, body[:40]
        assert answer.json()["error"].startswith(error), body[:40]
        conforms(answer.json(), "Error")


def test_a_nul_in_a_url_is_rejected_not_a_database_error(web):
    answer = web.api("analyst").post("/api/reports", json={"urls": ["http://e.com/\x00x"]})
    assert answer.status_code == 400
    assert answer.json()["rejected"][0]["reason"] == "the URL contains a NUL character"


def test_one_report_is_the_show_json(web):
    [report_id] = seed_history(web.store, count=1)
    answer = web.api("analyst").get(f"/api/reports/{report_id}")
    assert answer.status_code == 200
    with web.store.session() as session:
        assert answer.json() == report_view(session, session.get(Report, report_id))
    assert answer.json()["hosting"]["sources"] == {"asn": "cymru"}
    assert [n["kind"] for n in answer.json()["notices"]] == ["notice"]
    conforms(answer.json(), "Report")


def test_a_missing_report_is_404(web):
    api = web.api("analyst")
    for missing in ("999", "0", str(2**63), str(10**30)):
        answer = api.get(f"/api/reports/{missing}")
        assert answer.status_code == 404
        assert answer.json() == {"error": f"no report with id {int(missing)}"}


def test_the_list_filters_and_pages(web):
    web.queue("http://a.example/1", "http://a.example/2", ref="CASE-7")
    web.queue("http://b.example/1")
    seed_history(web.store, count=4)
    api = web.api("analyst")
    everything = api.get("/api/reports").json()
    conforms(everything, "ReportList")
    assert everything["total"] == 7 and [r["id"] for r in everything["reports"]][:2] == [7, 6]
    tagged = api.get("/api/reports", params={"ref": "CASE-7"}).json()
    assert [r["id"] for r in tagged["reports"]] == [2, 1]
    queued = api.get("/api/reports", params={"state": "queued", "limit": 2, "offset": 1}).json()
    assert ([r["id"] for r in queued["reports"]], queued["total"]) == ([2, 1], 3)
    by_asn = api.get("/api/reports", params={"provider": "AS64500"}).json()
    assert {r["hosting"]["org"] for r in by_asn["reports"]} == {"Example Hosting"}
    by_name = api.get("/api/reports", params={"provider": "other", "country": "de"}).json()
    assert by_name["total"] == 2
    assert {r["hosting"]["country"] for r in by_name["reports"]} == {"DE"}


BAD_PARAMETERS = [
    {"state": "gone"},
    {"limit": "0"},
    {"limit": "1001"},
    {"offset": "-1"},
    {"limit": "x"},
    {"limit": "\u0661"},
    {"country": "NLD"},
    {"ref": "a\x00b"},
    {"provider": "x" * 201},
    {"provider": "\x1d"},  # a control character that strip() would take for a space
    {"limit": ""},
    {"sate": "online"},
]


def test_bad_list_parameters_are_400(web):
    api = web.api("analyst")
    for params in BAD_PARAMETERS:
        answer = api.get("/api/reports", params=params)
        assert answer.status_code == 400, params
        conforms(answer.json(), "Error")


def test_an_unknown_list_parameter_is_named(web):
    answer = web.api("analyst").get("/api/reports", params={"sate": "online"})
    assert answer.json()["error"].startswith("unknown parameter 'sate'; the list takes state")


def test_an_empty_filter_means_any(web):
    web.queue("http://a.example/1")
    params = {"state": "", "ref": "", "provider": "", "country": ""}
    answer = web.api("analyst").get("/api/reports", params=params)
    assert answer.status_code == 200 and answer.json()["total"] == 1


def test_a_provider_filter_takes_text_literally(web):
    seed_history(web.store, count=2)
    with web.store.session() as session:
        session.merge(Hosting(report_id=1, org="100% Hosting_Co", resolved_at=utcnow()))
    api = web.api("analyst")
    assert api.get("/api/reports", params={"provider": "100%"}).json()["total"] == 1
    assert api.get("/api/reports", params={"provider": "%"}).json()["total"] == 1
    assert api.get("/api/reports", params={"provider": "_"}).json()["total"] == 1


def test_stats_is_the_stats_json(web):
    from stats.query import figures

    seed_history(web.store, count=12)
    answer = web.api("manager").get("/api/stats")
    assert answer.status_code == 200
    conforms(answer.json(), "Stats")
    expected = figures(web.store, 3)
    assert answer.json().keys() == expected.keys()
    assert answer.json()["total"] == 12 and answer.json()["median_time_to_removal_s"] > 0
    assert {entry["org"] for entry in answer.json()["by_provider"]} == {
        "Example Hosting",
        "Other Net",
    }


def test_queueing_through_the_api_is_in_the_audit_trail(web):
    api = web.api("analyst")
    api.post("/api/reports", json={"urls": ["http://example.com/a"]})
    api.post("/api/reports", json={"urls": ["http://example.com/a"], "ref": "C-2"})
    with web.store.session() as session:
        assert session.get(Report, 1).created_by == "analyst-api"
        events = session.execute(select(Event.actor, Event.action, Event.detail)).all()
    assert ("analyst-api", "ref_added", "C-2") in events


def test_other_methods_are_405_naming_the_allowed_ones(web):
    answer = web.api("admin").delete("/api/reports")
    assert answer.status_code == 405
    assert answer.json() == {"error": "Method Not Allowed"}
    assert set(answer.headers["allow"].split(", ")) >= {"GET", "POST"}
    assert web.api("admin").get("/api/nothing").json() == {"error": "Not Found"}


def test_the_spec_describes_every_api_route(web):
    spec = web.client().get("/openapi.json").json()
    assert spec == SPEC
    documented = {(path, method.upper()) for path, item in spec["paths"].items() for method in item}
    routed = {
        (route.path.replace(":int", ""), method)
        for route in web.app.routes
        if getattr(route, "path", "").startswith("/api/")
        for method in route.methods - {"HEAD"}
    }
    assert documented == routed
    Draft202012Validator.check_schema({"components": spec["components"]})
