"""The dashboard in a real browser: sign in, queue URLs, see them listed, read statistics."""

from __future__ import annotations

import pytest

from tests.browser.conftest import screenshot
from tests.test_web_support import PASSWORD, seed_history

pytestmark = pytest.mark.browser

HOSTILE = "http://evil.example/<script>alert('x')</script>\"><img src=x onerror=alert(1)>"


def sign_in(page, server, name: str) -> None:
    page.goto(f"{server.url}/reports")
    assert page.locator("h1").inner_text() == "Sign in"  # the 401 answer is the form
    page.fill("input[name=name]", name)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{server.url}/reports")


def test_queue_urls_and_see_them_listed_with_their_state(page, served):
    web, server = served
    web.user("ann", "analyst")
    sign_in(page, server, "ann")
    page.click("nav >> text=Queue")
    page.fill("textarea[name=urls]", f"http://example.com/a\n{HOSTILE}\nftp://example.com/b")
    page.fill("input[name=ref]", "CASE-1")
    page.select_option("select[name=category]", "A1")
    page.click("form[action='/queue'] button[type=submit]")
    assert page.locator(".results h2").inner_text() == "2 accepted, 1 rejected"
    assert page.locator("table.rejected td").nth(2).inner_text() == (
        "scheme 'ftp' is not http or https"
    )
    assert page.locator("textarea[name=urls]").input_value() == "ftp://example.com/b"
    screenshot(page, "queue-result")

    page.click("nav >> text=Reports")
    rows = page.locator("table.reports tbody tr")
    assert rows.count() == 2
    assert rows.nth(0).locator("td.url").inner_text().startswith("http://evil.example/%3Cscript")
    assert [rows.nth(i).locator(".state").inner_text() for i in range(2)] == ["queued"] * 2
    # The reported URLs are text: no element links to, or loads from, either of them.
    assert page.locator("a[href*='example'], img, iframe, link[rel=prefetch]").count() == 0
    screenshot(page, "reports")

    rows.nth(0).locator("a").click()
    assert page.locator("#submitted-url").inner_text() == HOSTILE
    page.click("text=Pause notices")
    assert page.locator("p.done").inner_text() == "Notices are held."
    assert "paused by ann" in page.locator("ol.timeline").inner_text()
    screenshot(page, "report")


def test_statistics_page_draws_its_charts(page, served):
    web, server = served
    seed_history(web.store, count=24)
    web.user("mia", "manager")
    sign_in(page, server, "mia")
    page.click("nav >> text=Statistics")
    page.wait_for_selector("svg#survival path.curve")
    assert page.locator("svg#survival path.curve").count() == 2
    assert page.locator("svg#providers rect.bar").count() == 2
    assert page.locator("svg#trend rect.bar").count() >= 4  # two panels, two months or more
    box = page.locator("svg#survival").bounding_box()
    assert box["width"] > 300 and box["height"] > 100  # the stylesheet applied
    assert page.locator("#median").inner_text().endswith(("h", "d"))
    screenshot(page, "statistics")


def test_an_analyst_sees_no_statistics_or_admin(page, served):
    web, server = served
    web.user("ann", "analyst")
    sign_in(page, server, "ann")
    assert page.locator("nav >> text=Statistics").count() == 0
    response = page.goto(f"{server.url}/admin/users")
    assert response.status == 403
    page.goto(f"{server.url}/reports")
    page.click("text=Sign out")
    page.wait_for_url(f"{server.url}/login")
    assert page.goto(f"{server.url}/reports").status == 401
