"""The outage guard, leases between concurrent passes, and `ntd check` as a command."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

from crawler.passes import run_pass
from simnet import MARKER, files_containing_marker, html_body
from tests.conftest import ROOT, run_ntd


def test_our_dns_failing_for_several_passes_holds_every_state_change(world):
    site = world.net.site("shop.test")
    site.page("/a.jpg")
    online, queued = world.add(site.url("/a.jpg"))[0], None
    world.check()
    [queued] = world.add(site.url("/queued.jpg"))
    for fault in ("servfail", "timeout", "servfail"):
        world.net.dns.outage = fault
        tally = world.check()
        assert tally.all_held or tally.checks == 0
        assert tally.held_reasons and "our resolver is failing" in tally.held_reasons[0]
        assert (world.state(online), world.state(queued)) == ("online", "queued")
    world.net.dns.outage = None
    # Nothing counted toward confirmation: one failure now is not yet a removal.
    site.fail_next("/a.jpg", 1, mode=503)
    world.check(removal_confirmations=2)
    assert world.state(online) == "unreachable"


def _online_sites(world, names: list[str]) -> tuple[dict, list[int]]:
    """One report on each named site, checked once and online: the sites by name, and
    the reports' ids."""
    sites, ids = {}, []
    for name in names:
        sites[name] = world.net.site(name)
        sites[name].page("/a.jpg")
        ids += world.add(sites[name].url("/a.jpg"))
    world.check()
    assert {world.state(i) for i in ids} == {"online"}
    return sites, ids


def test_a_pass_where_most_checks_fail_at_once_is_held_back(world):
    sites, ids = _online_sites(world, [f"host{i}.test" for i in range(25)])
    for site in list(sites.values())[:20]:
        site.fail_next("/a.jpg", 1, mode="reset")
    tally = world.check(outage_min_checks=20, outage_share=0.5)
    assert tally.all_held
    assert "20 of 25 checks failed" in tally.held_reasons[0]
    assert {world.state(i) for i in ids} == {"online"}
    view = world.show(ids[0])
    assert view["check_count"] == 2 and view["checks"][-1]["outcome"] == "error"


def test_a_pass_smaller_than_a_window_is_judged_whole_when_its_claims_run_dry_early(world):
    """Claims run dry with a slot's worth still fetching; the failures came first. The
    pass is still one window, judged whole: its state changes are all held back."""
    fast, slow = [f"f{i}.test" for i in range(24)], [f"s{i}.test" for i in range(16)]
    sites, ids = _online_sites(world, fast + slow)
    for name in fast + slow[12:]:
        sites[name].fail_next("/a.jpg", 1, mode="reset")
    for name in slow:
        sites[name].latency = 0.3
    tally = world.check(concurrency=8, outage_min_checks=5, removal_confirmations=1)
    assert tally.checks == 40 and tally.windows == 1 and tally.all_held
    assert {world.state(i) for i in ids} == {"online"}


def test_our_dns_failing_at_the_end_of_a_pass_holds_all_of_it(world):
    """Our resolver fails while a small pass's last fetches run: its end-of-pass probe
    holds back the whole pass, the checks made before the failure included."""
    fast, slow = [f"f{i}.test" for i in range(30)], [f"s{i}.test" for i in range(4)]
    sites, ids = _online_sites(world, fast + slow)
    for name in slow:
        sites[name].latency = 1.5
    for name in fast:
        sites[name].fail_next("/a.jpg", 1, mode=404)

    async def outage_during_the_pass():
        async def fail_soon():
            await asyncio.sleep(0.8)
            world.net.dns.outage = "servfail"

        failing = asyncio.ensure_future(fail_soon())
        try:
            return await run_pass(world.settings(concurrency=8, removal_confirmations=1))
        finally:
            await failing
            world.net.dns.outage = None

    tally = world.reactor_thread.run(outage_during_the_pass)
    assert tally.checks == 34 and tally.all_held
    assert "our resolver is failing" in tally.held_reasons[0]
    assert {world.state(i) for i in ids} == {"online"}


def test_two_passes_at_once_never_check_one_report_twice(world):
    site = world.net.site("slow.test", latency=0.05)
    for i in range(60):
        site.page(f"/{i}.jpg")
    ids = world.add(*(site.url(f"/{i}.jpg") for i in range(60)))
    settings = world.settings(concurrency=8)

    async def two_passes():
        return await asyncio.gather(run_pass(settings), run_pass(settings))

    first, second = world.reactor_thread.run(two_passes)
    assert first.checks + second.checks == 60
    assert first.checks > 0 and second.checks > 0
    assert all(world.show(i)["check_count"] == 1 for i in ids)
    fetched = [r.path for r in site.requests if not r.path.startswith("/ntd-probe")]
    assert sorted(fetched) == sorted(f"/{i}.jpg" for i in range(60))


def test_ntd_check_exits_3_when_our_resolver_fails(world, guarded_env, tmp_path):
    site = world.net.site("shop.test")
    site.page("/a.jpg")
    world.add(site.url("/a.jpg"))
    world.net.dns.outage = "servfail"
    result = run_ntd("check", env={**guarded_env, **_environment(world)}, cwd=tmp_path)
    assert result.returncode == 3, result.stderr
    assert b"outage guard held back state changes: our resolver is failing" in result.stderr


def test_ntd_check_words_what_failed_on_the_way_as_its_own_warnings(world, guarded_env, tmp_path):
    site = world.net.site("shop.test")
    site.page("/a.jpg")
    [report] = world.add(site.url("/a.jpg"))
    world.rdap.fail_next(50, status=500, retry_after=0)  # no wait between the tries
    env = {**guarded_env, **_environment(world), "NTD_RDAP_RATE": "100/s"}
    result = run_ntd("check", env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    lines = result.stderr.decode().splitlines()
    assert lines and all(line.startswith("ntd: warning: RDAP for ") for line in lines), lines
    assert any("/ip/127." in line and "answered 500" in line for line in lines)
    assert world.state(report) == "online"


def test_scrapy_crawl_verify_exits_3_as_ntd_check_does_when_our_resolver_fails(world, guarded_env):
    site = world.net.site("shop.test")
    site.page("/a.jpg")
    [report] = world.add(site.url("/a.jpg"))
    world.net.dns.outage = "servfail"
    result = _scrapy_crawl_verify(world, guarded_env)
    assert result.returncode == 3, result.stderr.decode()[-2000:]
    last = result.stderr.decode().strip().splitlines()[-1]
    assert last.startswith(
        "scrapy crawl: outage guard held back state changes: our resolver is failing"
    )
    assert world.state(report) == "queued" and world.show(report)["check_count"] == 0


def _environment(world) -> dict[str, str]:
    return world.environ(recheck_interval="0s", dns_timeout="1s")


def test_no_content_is_kept_anywhere_a_pass_writes(world, guarded_env, tmp_path):
    """The marker every simulated body carries must appear nowhere the run wrote."""
    site = world.net.site("shop.test")
    site.page("/a.jpg")  # an image
    site.page("/page.html", body=html_body("a page"), content_type="text/html")
    site.page("/zipped.jpg", gzip=True)
    site.page("/big.jpg", body=MARKER.encode() * 40_000)  # cut short at the cap
    site.page("/error", status=500)
    site.take_down("/gone.jpg", status=404)
    site.redirect("/moved.jpg", "/a.jpg")
    catch_all = world.net.site("catchall.test")
    catch_all.catch_all()
    urls = [
        site.url(p)
        for p in (
            "/a.jpg",
            "/page.html",
            "/zipped.jpg",
            "/big.jpg",
            "/error",
            "/gone.jpg",
            "/moved.jpg",
        )
    ] + [catch_all.url("/x.jpg")]
    database = tmp_path / "ntd.sqlite3"
    home, temp, work = tmp_path / "home", tmp_path / "tmp", tmp_path / "work"
    for folder in (home, temp, work):
        folder.mkdir()
    env = {
        **guarded_env,
        **_environment(world),
        "NTD_DATABASE_URL": f"sqlite:///{database}",
        "NTD_MAX_BODY_BYTES": "64KiB",
        "HOME": str(home),
        "TMPDIR": str(temp),
        "XDG_STATE_HOME": str(home / "state"),
    }
    added = run_ntd("add", *urls, env=env, cwd=work)
    assert added.returncode == 0, added.stderr
    outputs = []
    for _ in range(2):
        result = run_ntd("check", env=env, cwd=work)
        assert result.returncode == 0, result.stderr
        outputs += [result.stdout, result.stderr]
    shown = run_ntd("show", "1", "--json", env=env, cwd=work)
    outputs += [shown.stdout, shown.stderr]
    assert b'"outcome": "online"' in shown.stdout  # the run did fetch the content
    assert not any(MARKER.encode() in output for output in outputs)
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert database in written
    assert files_containing_marker(written) == []


def test_scrapy_crawl_verify_from_the_root_does_what_ntd_check_does(world, guarded_env):
    site = world.net.site("shop.test")
    site.page("/a.jpg")
    [report] = world.add(site.url("/a.jpg"))
    result = _scrapy_crawl_verify(world, guarded_env)
    assert result.returncode == 0, result.stderr.decode()[-2000:]
    assert world.state(report) == "online"
    assert MARKER.encode() not in result.stdout + result.stderr


def _scrapy_crawl_verify(world, guarded_env) -> subprocess.CompletedProcess:
    """`scrapy crawl verify` from the repository's root, on the world's settings only."""
    scrapy = Path(sys.executable).with_name("scrapy")
    env = {k: v for k, v in guarded_env.items() if not k.startswith("NTD_")}
    return subprocess.run(
        [str(scrapy), "crawl", "verify"],
        cwd=ROOT,
        env={**env, **_environment(world)},
        capture_output=True,
        timeout=120,
    )
