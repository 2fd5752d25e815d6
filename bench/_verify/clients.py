"""The clients ``bench/verify`` compares, each run as a child process on the same URLs
at the same concurrency."""

import csv
import json
import multiprocessing
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from . import runner
from .runner import Result
from .simweb import NETWORK, SimWeb

HERE = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent
NTD = BIN / "ntd"
LINKCHECKER = BIN / "linkchecker"

# What the ntd figure times, as one unit: CPU, wall time and peak RSS of every step are
# added up. HOOK for hosting resolution: `ntd check` resolves the hosting of what it
# reached while the pass runs (crawler.passes.check_and_resolve), so it is in the "check"
# step already; should it move to a command of its own, add that step here, e.g.
# ("hosting", ["hosting", "resolve"]). "ntd pass only" (ntd_pass.py) keeps the crawler's
# own cost apart.
NTD_TIMED_STEPS: list[tuple[str, list[str]]] = [("check", ["check"])]


@dataclass
class Job:
    """One client's run: where it works and what it fetches."""

    web: SimWeb
    urls: list[tuple[str, str]]  # (URL, expected SHA-256)
    workdir: Path
    concurrency: int = 128
    per_host: int = 8
    timeout: float = 600  # seconds before a client is killed (and reported as such)

    @property
    def urls_file(self) -> Path:
        path = self.workdir / f"urls-{len(self.urls)}-{hash(self.urls[0][0]) & 0xFFFF}.txt"
        if not path.exists():
            path.write_text("".join(url + "\n" for url, _ in self.urls))
            path.chmod(0o644)  # LinkChecker reads it as nobody
        return path

    def guard(self, name: str) -> tuple[dict[str, str], Path]:
        log = self.workdir / f"netguard-{name}.jsonl"
        log.touch()
        log.chmod(0o666)  # LinkChecker drops root for nobody before anything is refused
        return runner.guarded_env(runner.clean_env(), log, name), log


def _finish(job: Job, name: str, label: str, checks, measured, log: Path) -> Result:
    """The result of a run; ``checks=None`` counts the 200s the servers answered."""
    server = job.web.stats()
    if checks is None:
        checks = server["statuses"].get("200", 0)
    _guarded(label, log)
    result = Result(label, checks, measured, server)
    if measured.returncode != 0:
        result.notes.append(f"exit {measured.returncode}: {measured.stderr.strip()[-300:]}")
    if checks != len(job.urls):
        result.notes.append(f"checked {checks} of {len(job.urls)} URLs")
    extra = server["requests"] - len(job.urls)
    if extra:
        result.notes.append(f"{extra:+d} requests beyond one per URL ({server['statuses']})")
    return result


def _guarded(label: str, log: Path) -> None:
    """Stop the benchmark if the network guard refused any destination of the client's."""
    refused = runner.violations(log)
    if refused:
        sys.exit(f"{label}: the network guard refused a destination:\n{refused}")


def bare_loop(job: Job) -> Result:
    return _url_list_client(job, "aiohttp", "aio_loop.py", "bare aiohttp loop")


def scrapy_minimal(job: Job) -> Result:
    return _url_list_client(job, "scrapy-min", "scrapy_min.py", "minimal Scrapy spider")


def _url_list_client(job: Job, name: str, script: str, label: str) -> Result:
    """A peer that reads the URL list and prints its tally as a last JSON line."""
    env, log = job.guard(name)
    command = [
        sys.executable,
        str(HERE / script),
        str(job.urls_file),
        "--concurrency",
        str(job.concurrency),
        "--per-host",
        str(job.per_host),
    ]
    measured = runner.run(
        command, env=env, cwd=job.workdir, logs=job.workdir, name=name, timeout=job.timeout
    )
    tally = _last_json(measured.stdout)
    return _finish(job, name, label, tally.get("ok", 0), measured, log)


def linkchecker(job: Job) -> Result:
    """LinkChecker on the given URLs only: recursion level 0, no robots.txt, no output.

    The URLs' hosts are 127.x literals, so its system resolver asks nothing; the network
    guard would refuse any other destination. simnet sends LinkChecker's own header
    that lifts its 10-requests-per-second-per-host default, and the configuration sets
    the rate to what 128 threads can do. It has no per-host connection cap.
    """
    name = "linkchecker"
    env, log = job.guard(name)
    config = job.workdir / "linkcheckerrc"
    config.write_text("[checking]\nmaxrequestspersecond=1000000\n")
    config.chmod(0o644)
    command = [
        str(LINKCHECKER),
        "-f",
        str(config),
        "--stdin",
        "-t",
        str(job.concurrency),
        "-r0",
        "--no-robots",
        "--no-status",
        "-o",
        "none",
        "--timeout",
        "30",
    ]
    measured = runner.run(
        command,
        env=env,
        cwd=job.workdir,
        logs=job.workdir,
        name=name,
        timeout=job.timeout,
        stdin=job.urls_file,
    )
    if measured.returncode == 1:  # LinkChecker's "some links were broken or warned"
        measured.returncode = 0
    # It prints nothing with -o none: count what the servers answered with 200.
    return _finish(job, name, "LinkChecker", None, measured, log)


def ntd_env(job: Job, database: Path, url: str | None = None) -> tuple[dict[str, str], Path]:
    """The environment of `ntd` on ``database`` (SQLite), or on ``url`` where given."""
    env, log = job.guard(f"ntd-{database.parent.name}")
    env.update(
        NTD_DATABASE_URL=url or f"sqlite:///{database}",
        NTD_DNS_NAMESERVERS=job.web.nameserver,
        NTD_ALLOWED_PRIVATE_NETWORKS=NETWORK,
        NTD_OUTAGE_PROBE_NAME=job.web.probe_name,
        NTD_RDAP_URL=job.web.ready["rdap_url"],
        NTD_CONCURRENCY=str(job.concurrency),
        NTD_CONCURRENCY_PER_HOST=str(job.per_host),
        NTD_ACTOR="bench",
    )
    return env, log


def ntd_import(
    job: Job, database: Path, *, fingerprints: bool, database_url: str | None = None
) -> None:
    """Queue the URLs with `ntd import` (not timed), into ``database`` or ``database_url``."""
    database.parent.mkdir(parents=True, exist_ok=True)
    path = database.parent / "reports.csv"
    with path.open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["url", "sha256"])
        for url, sha in job.urls:
            writer.writerow([url, sha if fingerprints else ""])
    env, _ = ntd_env(job, database, database_url)
    measured = runner.run(
        [str(NTD), "import", str(path)],
        env=env,
        cwd=database.parent,
        logs=database.parent,
        name="import",
    )
    if measured.returncode != 0:
        sys.exit(f"ntd import failed: {measured.stderr[-2000:]}")
    job.web.stats()  # nothing fetched; starts the next window afresh


def ntd_check(
    job: Job,
    label: str,
    slug: str,
    *,
    fingerprints: bool = True,
    command_prefix=(),
    pass_only: bool = False,
    not_due: int = 0,
) -> Result:
    """`ntd check` as a user runs it, on a fresh SQLite store of the same URLs; or, with
    ``pass_only``, the verification pass without the hosting look-ups (ntd_pass.py).
    With ``not_due``, the store first gets that many more reports, none of them due."""
    database = job.workdir / f"ntd-{slug}" / "ntd.sqlite3"
    if not_due:
        _store_not_due(database, not_due)
    ntd_import(job, database, fingerprints=fingerprints)
    env, log = ntd_env(job, database)
    total = None
    steps = [("pass", [])] if pass_only else NTD_TIMED_STEPS
    program = [sys.executable, str(HERE / "ntd_pass.py")] if pass_only else [str(NTD)]
    for step, args in steps:
        command = [*command_prefix, *program, *args]
        measured = runner.run(
            command,
            env=env,
            cwd=database.parent,
            logs=database.parent,
            name=step,
            timeout=job.timeout,
        )
        total = measured if total is None else _add(total, measured)
        if measured.returncode != 0:
            break
    match = re.search(r"checked (\d+): ([^;]*);", total.stdout)
    checks = int(match.group(1)) if match else 0
    result = _finish(job, f"ntd-{slug}", label, checks, total, log)
    if match:
        result.notes.append(match.group(2))
    hosting = re.search(r"hosting resolved for (\d+) reports", total.stdout)
    if hosting:
        rdap = result.server["rdap_requests"]
        result.notes.append(f"hosting of {hosting.group(1)} ({rdap} RDAP)")
    return result


def ntd_passes(job: Job, count: int, command_prefix=()) -> list[dict]:
    """``count`` passes over the job's URLs in one process, as `ntd run` makes them
    (ntd_passes.py), on a fresh SQLite store: each pass's checks and RSS after it."""
    database = job.workdir / "ntd-passes" / "ntd.sqlite3"
    ntd_import(job, database, fingerprints=True)
    env, log = ntd_env(job, database)
    measured = runner.run(
        [*command_prefix, sys.executable, str(HERE / "ntd_passes.py"), str(count)],
        env=env,
        cwd=database.parent,
        logs=database.parent,
        name="passes",
        timeout=job.timeout,
    )
    _guarded("ntd passes", log)
    if measured.returncode != 0:
        sys.exit(f"ntd passes: exit {measured.returncode}: {measured.stderr.strip()[-2000:]}")
    job.web.stats()  # what the passes asked is nobody else's
    return [json.loads(line) for line in measured.stdout.splitlines() if line.startswith("{")]


def ntd_workers(job: Job, url: str, count: int) -> Result:
    """``count`` `ntd check` workers started together on one freshly filled store at
    ``url``, sharing its due queue; their checks and CPU added up, wall time to the last
    exit. Each worker runs at the job's concurrency."""
    database = job.workdir / f"ntd-workers-{count}" / "unused.sqlite3"
    ntd_import(job, database, fingerprints=True, database_url=url)
    env, log = ntd_env(job, database, url)
    measured = runner.run_together(
        [[str(NTD), *NTD_TIMED_STEPS[0][1]]] * count,
        env=env,
        cwd=database.parent,
        logs=database.parent,
        name="worker",
        timeout=job.timeout,
    )
    total = measured[0]
    for more in measured[1:]:
        total = _add(total, more)
    total.wall = max(m.wall for m in measured)
    checks = [re.search(r"checked (\d+):", m.stdout) for m in measured]
    label = f"{count} ntd check worker{'s' if count > 1 else ''}"
    result = _finish(
        job, f"ntd-workers-{count}", label, sum(int(c.group(1)) for c in checks if c), total, log
    )
    result.notes.append("checks per worker: " + ", ".join(c.group(1) if c else "?" for c in checks))
    return result


def _store_not_due(database: Path, count: int) -> None:
    """``count`` reports in a new store at ``database``, all due later (not timed).

    In a process of its own: the rows would leave this one large, and a client spawned
    from it would start with that peak RSS as its own (see runner)."""
    database.parent.mkdir(parents=True, exist_ok=True)
    filler = multiprocessing.get_context("spawn").Process(
        target=_fill_not_due, args=(f"sqlite:///{database}", count)
    )
    filler.start()
    filler.join()
    if filler.exitcode != 0:
        sys.exit(f"filling {database} with {count:,} reports failed")


def _fill_not_due(url: str, count: int) -> None:
    from _stores import fill_reports

    from store.db import open_store

    store = open_store(url)
    try:
        fill_reports(store, count)
    finally:
        store.close()


def _add(a, b):
    return runner.Measured(
        returncode=a.returncode or b.returncode,
        wall=a.wall + b.wall,
        cpu=a.cpu + b.cpu,
        maxrss_kb=max(a.maxrss_kb, b.maxrss_kb),
        stdout=a.stdout + b.stdout,
        stderr=a.stderr + b.stderr,
        spawned=a.spawned,
    )


def _last_json(text: str) -> dict:
    for line in reversed(text.strip().splitlines()):
        try:
            return json.loads(line)
        except ValueError:
            continue
    return {}


os.umask(0o022)
