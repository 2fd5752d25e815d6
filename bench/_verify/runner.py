"""Running one client as a child process and measuring it.

Wall time runs from spawn to exit (start-up included). CPU (user + sys) and peak RSS
come from ``os.wait4`` on the child: Linux sums the CPU of the child and of every
descendant it waited for, and gives the largest peak RSS among them, so a client's
whole process tree is counted and nothing of the simulated web's.

Linux carries a process's peak RSS across exec, so a child's figure is never below
what the benchmark's own process held when it spawned the child: the benchmark stays
small (about 40 MB) and does anything big, such as filling a store, in a child.
"""

import compileall
import contextlib
import os
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
GUARD_SITE = ROOT / "tests" / "netguard" / "site"


@dataclass
class Measured:
    returncode: int
    wall: float  # seconds, spawn to exit
    cpu: float  # seconds, user + sys of the process tree
    maxrss_kb: int
    stdout: str
    stderr: str
    spawned: float = 0.0  # time.time() at spawn, to compare with the servers' clock


@dataclass
class Result:
    client: str
    checks: int  # URLs the client reports checked
    measured: Measured
    server: dict  # python -m simnet's stats for this client's run
    notes: list[str] = field(default_factory=list)

    @property
    def rate(self) -> float:
        """Checks per second of wall time, start-up included."""
        return self.checks / self.measured.wall

    @property
    def window(self) -> float:
        """Seconds from the first request's arrival to the last answer, at the servers."""
        first, last = self.server.get("first_arrival"), self.server.get("last_answer")
        return (last - first) if first and last else float("nan")

    @property
    def first_request(self) -> float:
        """Seconds from spawn to the first request's arrival at the servers: start-up."""
        first = self.server.get("first_arrival")
        return first - self.measured.spawned if first else float("nan")

    @property
    def window_rate(self) -> float:
        return self.checks / self.window if self.window else float("nan")

    @property
    def cpu_ms_per_check(self) -> float:
        return 1000 * self.measured.cpu / self.checks if self.checks else float("nan")

    @property
    def rss_mb(self) -> float:
        return self.measured.maxrss_kb / 1024


def guarded_env(base: dict[str, str], log: Path, context: str) -> dict[str, str]:
    """``base`` plus the test suite's network guard (tests/netguard): every Python
    process of the client refuses any destination outside loopback and logs it."""
    env = dict(base)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(GUARD_SITE), env.get("PYTHONPATH")]))
    env["NETGUARD_LOG"] = str(log)
    env["NETGUARD_CONTEXT"] = f"bench/verify: {context}"
    return env


def byte_compile() -> None:
    """Byte-compile the project's packages and modules (the network guard's among them)
    as installing it would, so that no client's timed run compiles them (clean_env)."""
    for path in sorted(ROOT.iterdir()):
        if (path / "__init__.py").exists():
            compileall.compile_dir(path, quiet=1)
        elif path.suffix == ".py":
            compileall.compile_file(path, quiet=1)


def clean_env() -> dict[str, str]:
    """The environment without our settings or proxies: nothing of the caller's leaks in.

    Nor PYTHONDONTWRITEBYTECODE, which some machines set for every process: each client
    runs as installed, from byte-compiled modules (pip compiles what it installs). With
    it, every `ntd` compiled the project's 45 modules again before its first fetch, about
    40 ms, while a peer's single script and its installed libraries compiled nothing.
    """
    drop = ("NTD_", "NETGUARD_")
    proxies = {"http_proxy", "https_proxy", "all_proxy", "no_proxy"}
    return {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(drop) and k.lower() not in proxies and k != "PYTHONDONTWRITEBYTECODE"
    }


def run(
    command: list[str],
    *,
    env: dict[str, str],
    cwd: Path,
    logs: Path,
    name: str,
    stdin: Path | None = None,
    timeout: float = 900,
) -> Measured:
    """``command`` run to its end, its output in ``logs``/``name``.out and .err."""
    [measured] = run_together(
        [command], env=env, cwd=cwd, logs=logs, name=name, stdin=stdin, timeout=timeout
    )
    return measured


def run_together(
    commands: list[list[str]],
    *,
    env: dict[str, str],
    cwd: Path,
    logs: Path,
    name: str,
    stdin: Path | None = None,
    timeout: float = 900,
) -> list[Measured]:
    """``commands`` started at once, each measured alone: wall time from the first spawn
    to its own exit. Output goes to ``name``-i.out and .err (``name``.out for just one)."""
    stems = [name] if len(commands) == 1 else [f"{name}-{i}" for i in range(len(commands))]
    with contextlib.ExitStack() as files:
        started, spawned = time.perf_counter(), time.time()
        processes = []
        for stem, command in zip(stems, commands, strict=True):
            out = files.enter_context(open(logs / f"{stem}.out", "wb"))
            err = files.enter_context(open(logs / f"{stem}.err", "wb"))
            source = files.enter_context(open(stdin, "rb")) if stdin else subprocess.DEVNULL
            processes.append(
                subprocess.Popen(command, stdin=source, stdout=out, stderr=err, env=env, cwd=cwd)
            )
        timers = [threading.Timer(timeout, p.kill) for p in processes]
        for timer in timers:
            timer.start()
        measured = []
        try:
            for stem, process in zip(stems, processes, strict=True):
                # wait4, not wait: it gives the child's (and its children's) rusage.
                _, status, usage = os.wait4(process.pid, 0)
                measured.append(
                    Measured(
                        returncode=os.waitstatus_to_exitcode(status),
                        wall=time.perf_counter() - started,
                        cpu=usage.ru_utime + usage.ru_stime,
                        maxrss_kb=usage.ru_maxrss,
                        stdout=(logs / f"{stem}.out").read_text(errors="replace"),
                        stderr=(logs / f"{stem}.err").read_text(errors="replace"),
                        spawned=spawned,
                    )
                )
        finally:
            for timer in timers:
                timer.cancel()
    return measured


def violations(log: Path) -> str:
    """What the network guard refused in the clients, if anything."""
    return log.read_text() if log.exists() else ""
