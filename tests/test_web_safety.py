"""Safe display: reported URLs are inert text on every page, never a link or a fetch, and
every answer carries headers that keep the browser from loading or leaking anything."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest
from sqlalchemy import update

from store.models import Hosting
from tests.test_web_support import Web, cheap_passwords, seed_history
from web.formatting import shown

# Quotes of both kinds, markup, and an attribute break-out, in path, query and fragment.
HOSTILE = (
    'http://evil.example/<script>alert("x")</script>\'"><img src=x onerror=alert(1)>?a="\'#<b>'
)
REJECTED = "gopher://evil.example/<script>alert('no')</script>"
INVISIBLE = "http://evil.example/\u202etxt.exe"


class Markup(HTMLParser):
    """Every element and attribute of a page, and its text."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.attributes: list[tuple[str, str, str]] = []
        self.text: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attributes += [(tag, name, value or "") for name, value in attrs]

    def handle_data(self, data):
        self.text.append(data)


@pytest.fixture
def web(database_url, monkeypatch):
    cheap_passwords(monkeypatch)
    web = Web(database_url, min_group="1")
    yield web
    web.close()


def test_a_hostile_url_is_text_on_every_page(web):
    browser = web.browser("admin")
    pasted = f"{HOSTILE}\n{REJECTED}\n"
    queued = browser.post("/queue", data={"urls": pasted, "csrf": browser.csrf})
    assert queued.status_code == 200 and "scheme &#39;gopher&#39;" in queued.text
    pages = [
        queued,
        browser.get("/reports"),
        browser.get("/reports/1"),
        browser.get("/admin/audit"),
    ]
    for page in pages:
        markup = Markup(page.text)
        # Nothing but our own elements: the URL's <script>, <img> and <b> stay text.
        assert not {"script", "img", "b", "iframe", "object"} & set(markup.tags), page.url
        # No attribute anywhere holds the address: no link, no src, no prefetch.
        assert not [a for a in markup.attributes if "evil.example" in a[2]], page.url
    report = Markup(pages[2].text)
    text = "".join(report.text)
    assert HOSTILE.split("#")[0] in text  # as submitted (the fragment too), shown verbatim
    assert "http://evil.example/%3Cscript%3Ealert(%22x%22)%3C/script%3E'%22%3E%3Cimg" in text
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;&#39;&#34;&gt;" in pages[2].text


def test_invisible_characters_in_a_url_are_made_visible(web):
    browser = web.browser("analyst")
    browser.post("/queue", data={"urls": INVISIBLE, "csrf": browser.csrf})
    page = browser.get("/reports/1").text
    assert "\u202e" not in page
    assert "http://evil.example/\\u{202e}txt.exe" in page
    assert shown("a\u200bb\x00c\nd") == "a\\u{200b}b\\u{0000}c\\u{000a}d"


def test_labels_from_rdap_are_escaped_in_charts_and_tables(web):
    seed_history(web.store, count=6)
    with web.store.session() as session:
        session.execute(update(Hosting).values(org='<script>alert(1)</script>"Net'))
    page = web.browser("manager").get("/stats")
    markup = Markup(page.text)
    assert "script" not in markup.tags
    assert "&lt;script&gt;alert(1)&lt;/script&gt;&#34;Net" in page.text


def test_every_answer_carries_the_security_headers(web):
    web.queue(HOSTILE)
    browser, api = web.browser("admin"), web.api("admin")
    answers = {
        "login": web.client().get("/login"),
        "401 page": web.client().get("/reports"),
        "401 api": web.client().get("/api/reports"),
        "page": browser.get("/reports/1"),
        "404 page": browser.get("/reports/77"),
        "no route": browser.get("/nowhere"),
        "403": web.browser("analyst").get("/stats"),
        "api": api.get("/api/reports/1"),
        "csv": browser.get("/stats.csv"),
        "openapi": web.client().get("/openapi.json"),
        "static": web.client().get("/static/ntd.css"),
        "redirect": browser.get("/"),
    }
    for name, answer in answers.items():
        headers = answer.headers
        csp = headers.get("content-security-policy", "")
        assert "default-src 'none'" in csp, name
        assert "script-src 'self'" in csp and "style-src 'self'" in csp, name
        assert "form-action 'self'" in csp and "frame-ancestors 'none'" in csp, name
        assert "unsafe-inline" not in csp, name
        assert headers.get("referrer-policy") == "no-referrer", name
        assert headers.get("x-content-type-options") == "nosniff", name
        assert "server" not in headers or "uvicorn" not in headers["server"], name
        if name != "static":
            assert headers.get("cache-control") == "no-store", name
    assert answers["api"].headers["content-type"] == "application/json"


def test_pages_load_nothing_from_elsewhere_and_run_no_inline_code(web):
    [report_id] = seed_history(web.store, count=1)
    browser = web.browser("admin")
    for path in (
        "/reports",
        f"/reports/{report_id}",
        "/queue",
        "/stats",
        "/admin/users",
        "/admin/contacts",
        "/admin/audit",
        "/login",
    ):
        markup = Markup(browser.get(path).text)
        assert "script" not in markup.tags, path
        for tag, name, value in markup.attributes:
            assert not name.startswith("on") and name != "style", (path, tag, name)
            if name in ("href", "src", "action"):
                assert value.startswith("/") and not value.startswith("//"), (path, value)
