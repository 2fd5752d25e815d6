"""Outcomes and states of checks against the simulated internet, as PRODUCT.md rules them."""

from __future__ import annotations

import gzip
import hashlib
import threading
import time
from datetime import datetime

from simnet import html_body, image_body
from store.models import Report
from store.types import utcnow
from web.actions import request_recheck


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_online_content_is_recorded_with_what_was_seen(world):
    site = world.net.site("shop.test")
    body = image_body(4096)
    site.page("/a.jpg", body=body, content_type="image/jpeg")
    [report] = world.add(site.url("/a.jpg"))
    tally = world.check()
    assert tally.outcomes == {"online": 1}
    view = world.show(report)
    assert (view["state"], view["seen_online"], view["check_count"]) == ("online", True, 1)
    [check] = view["checks"]
    assert check["outcome"] == "online" and check["http_status"] == 200
    assert check["sha256"] == sha(body) and check["bytes"] == len(body)
    assert check["ip"] == site.address and check["truncated"] is False
    assert check["content_type"] == "image/jpeg"
    assert view["first_online_at"] == view["last_online_at"] == check["at"]


def test_gone_statuses_remove_at_once(world):
    site = world.net.site("shop.test")
    ids = []
    for status in (404, 410, 451):
        site.page(f"/{status}.jpg")
        ids += world.add(site.url(f"/{status}.jpg"))
    world.check()
    for status in (404, 410, 451):
        site.take_down(f"/{status}.jpg", status=status)
    world.check()
    for report in ids:
        view = world.show(report)
        assert view["state"] == "removed" and view["seen_online"] is True
        assert view["removed_at"] == view["checks"][-1]["at"]
        assert view["checks"][-1]["outcome"] == "gone"


def test_a_report_first_found_gone_is_removed_never_seen_online(world):
    site = world.net.site("shop.test")
    site.take_down("/x.jpg", status=404)
    [report] = world.add(site.url("/x.jpg"))
    world.check()
    view = world.show(report)
    assert (view["state"], view["seen_online"]) == ("removed", False)


def test_a_name_that_does_not_exist_is_nxdomain_and_removes(world):
    [report] = world.add("http://no-such-name.test/a.jpg")
    world.check()
    view = world.show(report)
    assert view["checks"][-1]["outcome"] == "nxdomain"
    assert view["state"] == "removed"


def test_a_name_with_no_address_is_an_error_not_a_removal(world):
    world.net.dns.txt("text-only.test", "v=nothing")
    [report] = world.add("http://text-only.test/a.jpg")
    world.check()
    view = world.show(report)
    assert view["checks"][-1]["outcome"] == "error"
    assert view["checks"][-1]["detail"] == "the name has no address"
    assert view["state"] == "unreachable"


def test_fingerprints_decide_online_or_changed(world):
    site = world.net.site("shop.test")
    body = image_body(3000)
    site.page("/a.jpg", body=body)
    site.page("/b.jpg", body=image_body(3001))
    [same] = world.add(site.url("/a.jpg"), sha256=(sha(body),))
    [other] = world.add(site.url("/b.jpg"), sha256=(sha(body),))
    world.check()
    assert world.show(same)["checks"][-1]["outcome"] == "online"
    assert world.show(same)["state"] == "online"
    assert world.show(other)["checks"][-1]["outcome"] == "changed"
    assert world.show(other)["state"] == "removed"


def test_the_fingerprint_is_of_the_decoded_body_when_gzipped(world):
    site = world.net.site("shop.test")
    body = image_body(20000)
    site.page("/a.jpg", body=body, gzip=True)
    [report] = world.add(site.url("/a.jpg"), sha256=(sha(body),))
    world.check()
    check = world.show(report)["checks"][-1]
    assert check["outcome"] == "online"
    assert (check["sha256"], check["bytes"]) == (sha(body), len(body))
    assert len(gzip.compress(body)) < len(body)  # the wire carried less than was hashed


def test_a_body_over_the_cap_is_cut_short_and_online(world):
    site = world.net.site("shop.test")
    body = image_body(300_000)
    site.page("/big.jpg", body=body)
    site.page("/big-chunked.jpg", body=body, framing="chunked")
    ids = world.add(site.url("/big.jpg"), site.url("/big-chunked.jpg"), sha256=("0" * 64,))
    world.check(max_body_bytes="64KiB")
    for report in ids:
        check = world.show(report)["checks"][-1]
        assert check["outcome"] == "online" and check["truncated"] is True
        assert check["bytes"] == 65536 and check["sha256"] == sha(body[:65536])


def test_errors_remove_only_after_confirmations_counted_from_the_first(world):
    site = world.net.site("shop.test")
    site.page("/a.jpg")
    [report] = world.add(site.url("/a.jpg"))
    world.check()
    site.fail_next("/a.jpg", 10, mode=503)
    world.check()
    first_failure = world.show(report)["checks"][-1]["at"]
    assert world.state(report) == "unreachable"
    world.check()
    view = world.show(report)
    assert view["state"] == "removed"
    assert view["removed_at"] == first_failure


def test_errors_closer_than_the_recheck_interval_count_once(world):
    site = world.net.site("shop.test")
    site.page("/a.jpg")
    [report] = world.add(site.url("/a.jpg"))
    world.check()
    site.fail_next("/a.jpg", 10, mode="reset")
    for _ in range(3):
        world.check([report], recheck_interval="1h")
    view = world.show(report)
    assert view["state"] == "unreachable" and view["check_count"] == 4


def test_failures_in_bursts_shorter_than_the_confirmations_never_remove(world):
    site = world.net.site("shop.test")
    site.page("/a.jpg")
    [report] = world.add(site.url("/a.jpg"))
    for mode in ("reset", 503, "reset", 503):
        site.fail_next("/a.jpg", 1, mode=mode)
        world.check(removal_confirmations=2)
        assert world.state(report) == "unreachable"
        world.check(removal_confirmations=2)
        assert world.state(report) == "online"
    assert world.show(report)["removed_at"] is None


def test_a_hanging_host_times_out_as_an_error(world):
    site = world.net.site("shop.test")
    site.page("/a.jpg")
    site.fail_next("/a.jpg", 1, mode="hang")
    [report] = world.add(site.url("/a.jpg"))
    world.check(fetch_timeout="1s")
    check = world.show(report)["checks"][-1]
    assert (check["outcome"], check["detail"]) == ("error", "timed out")


def test_denied_never_removes(world):
    site = world.net.site("shop.test")
    site.page("/a.jpg")
    [report] = world.add(site.url("/a.jpg"))
    world.check()
    for status in (403, 401, 429, 403):
        site.page("/a.jpg", status=status)
        world.check()
        assert world.show(report)["checks"][-1]["outcome"] == "denied"
        assert world.state(report) == "unreachable"
    site.page("/a.jpg")
    world.check()
    assert world.state(report) == "online"


def test_live_content_on_a_catch_all_host_never_becomes_gone(world):
    site = world.net.site("catchall.test")
    same = image_body(5000)
    site.catch_all(body=same)  # every path, the same image: the content itself
    [report] = world.add(site.url("/photo.jpg"))
    world.check()
    assert world.show(report)["checks"][-1]["outcome"] == "error"  # cannot tell yet
    view = world.show(report)
    assert view["seen_online"] is False and view["state"] == "unreachable"


def test_a_catch_all_host_with_first_seen_content_stays_online(world):
    site = world.net.site("catchall.test")
    content = image_body(5000)
    site.page("/photo.jpg", body=content)
    [report] = world.add(site.url("/photo.jpg"))
    world.check()
    site.catch_all(body=content)  # the host now answers every path with the content
    site.take_down("/photo.jpg", status=200)
    site.page("/photo.jpg", body=content)
    for _ in range(3):
        world.check()
        assert world.state(report) == "online"


def test_a_soft_404_after_the_content_was_seen_is_gone(world):
    site = world.net.site("catchall.test")
    site.catch_all(body=html_body("Page not found"), status=200)
    site.page("/photo.jpg", body=image_body(5000), content_type="image/jpeg")
    [report] = world.add(site.url("/photo.jpg"))
    world.check()
    assert world.state(report) == "online"
    site.replace("/photo.jpg", body=html_body("Page not found"), content_type="text/html")
    world.check()
    check = world.show(report)["checks"][-1]
    assert check["outcome"] == "gone"
    assert check["detail"].startswith("soft-404")
    assert world.state(report) == "removed"


def test_an_image_replaced_by_a_page_is_ambiguous(world):
    site = world.net.site("shop.test")
    site.page("/a.jpg", body=image_body(3000), content_type="image/jpeg")
    [report] = world.add(site.url("/a.jpg"))
    world.check()
    site.replace("/a.jpg", body=html_body("Are you 18?"), content_type="text/html")
    world.check()
    assert world.show(report)["checks"][-1]["outcome"] == "replaced"
    assert world.state(report) == "unreachable"
    world.check()
    assert world.state(report) == "removed"


def test_redirects_are_followed_and_the_chain_kept(world):
    site = world.net.site("shop.test")
    other = world.net.site("cdn.test")
    other.page("/final.jpg")
    site.redirect("/old.jpg", "/mid.jpg", status=301)
    site.redirect("/mid.jpg", other.url("/final.jpg"), status=302)
    [report] = world.add(site.url("/old.jpg"))
    world.check()
    check = world.show(report)["checks"][-1]
    assert check["outcome"] == "online"
    assert check["final_url"] == other.url("/final.jpg")
    assert check["redirects"] == [site.url("/old.jpg"), site.url("/mid.jpg")]
    assert check["ip"] == other.address


def test_a_redirect_loop_is_an_error(world):
    site = world.net.site("shop.test")
    site.redirect("/a", "/b")
    site.redirect("/b", "/a")
    [report] = world.add(site.url("/a"))
    world.check()
    check = world.show(report)["checks"][-1]
    assert (check["outcome"], check["detail"]) == (
        "error",
        "too many redirects, or a redirect loop",
    )


def test_certificates_are_never_validated(world):
    site = world.net.site("shop.test")
    body = image_body(2000)
    site.page("/a.jpg", body=body)
    [report] = world.add(site.url("/a.jpg", scheme="https"))
    world.check()
    check = world.show(report)["checks"][-1]
    assert (check["outcome"], check["sha256"]) == ("online", sha(body))


def test_content_seen_again_reopens_the_report_as_a_reappearance(world):
    site = world.net.site("shop.test")
    site.page("/a.jpg")
    [report] = world.add(site.url("/a.jpg"))
    world.check()
    site.take_down("/a.jpg", status=404)
    world.check()
    assert world.state(report) == "removed"
    site.page("/a.jpg")
    world.check([report])
    view = world.show(report)
    assert (view["state"], view["reappearances"], view["removed_at"]) == ("online", 1, None)
    assert [c["outcome"] for c in view["checks"]] == ["online", "gone", "online"]


def test_removed_reports_are_due_only_within_the_reappearance_window(world):
    site = world.net.site("shop.test")
    site.take_down("/a.jpg", status=404)
    [report] = world.add(site.url("/a.jpg"))
    world.check(reappearance_interval="1h", reappearance_window="2h")
    view = world.show(report)
    assert at(view["next_check_at"]) > at(view["removed_at"])
    world.check(reappearance_interval="1h", reappearance_window="30m")
    assert world.show(report)["check_count"] == 1  # not due: nothing checked
    world.check([report], reappearance_interval="1h", reappearance_window="30m")
    assert world.show(report)["next_check_at"] is None


def test_named_reports_are_checked_now_and_others_wait(world):
    site = world.net.site("shop.test")
    site.page("/a.jpg")
    site.page("/b.jpg")
    first, second = world.add(site.url("/a.jpg"), site.url("/b.jpg"))
    world.check(recheck_interval="6h")
    world.check(recheck_interval="6h")  # nothing due
    assert world.show(first)["check_count"] == 1
    world.check([first], recheck_interval="6h")
    assert world.show(first)["check_count"] == 2
    assert world.show(second)["check_count"] == 1


def test_the_user_agent_is_sent_and_robots_txt_not_asked(world):
    site = world.net.site("shop.test")
    site.page("/a.jpg")
    world.add(site.url("/a.jpg"))
    world.check(hotline_name="Example Hotline")
    [request] = [r for r in site.requests if r.path == "/a.jpg"]
    assert "Example Hotline" in request.user_agent
    assert not any(r.path == "/robots.txt" for r in site.requests)


def test_a_re_check_asked_for_while_a_check_is_in_hand_still_happens(world):
    """An analyst's "re-check now" (or a provider's "Removed") that comes after a pass
    fetched the page, but before the pass wrote what it saw, asks for a later fetch: the
    pass's write must not push it back to RECHECK_INTERVAL."""
    site = world.net.site("shop.test")
    site.page("/a.jpg")
    site.page("/slow.jpg", delay=3.0)  # keeps the pass, and its unwritten checks, open
    asked, slow = world.add(site.url("/a.jpg"), site.url("/slow.jpg"))
    passing = threading.Thread(target=world.check, kwargs={"recheck_interval": "6h"})
    passing.start()
    deadline = time.monotonic() + 10
    while len(site.requests) < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(1.0)  # /a.jpg answered and looked at, even on a loaded machine; /slow.jpg waits
    with world.store.session() as session:
        assert request_recheck(session, session.get(Report, asked), actor="ann", now=utcnow())
    passing.join(timeout=20)
    assert world.show(asked)["check_count"] == 1 and world.show(slow)["check_count"] == 1
    world.check(recheck_interval="6h")
    assert world.show(asked)["check_count"] == 2  # the re-check asked for
    assert world.show(slow)["check_count"] == 1  # not due for six hours
