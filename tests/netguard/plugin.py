"""Pytest plugin: any test that reaches beyond loopback fails.

Register it in the root conftest with ``pytest_plugins = ["tests.netguard.plugin"]``.

The guard is installed at ``pytest_configure`` and stays for the whole session,
so test-module imports and fixtures are covered as well as test bodies. A
refused call raises ``NetworkGuardViolation`` on the spot; because libraries
swallow exceptions (ipwhois, Twisted, Scrapy's retries), the plugin also fails
the phase (collection, setup, call or teardown) during which a violation was
recorded, in this process or by a subprocess started with ``guarded_env``.
Violations outside any test fail the session.

Fixtures:

- ``netguard``: the current test's violations; acknowledge deliberate ones with
  ``netguard.expect_violation(...)`` or ``netguard.clear()``.
- ``guarded_env``: an environment for subprocesses of the current test.
- ``session_guarded_env``: the same, read-only, for subprocesses started by
  session-scoped fixtures; their violations fail the test running when seen.
"""

from __future__ import annotations

import contextlib
import threading
import types
from collections.abc import Iterator, Mapping, Sequence

import pytest

from . import guard
from .subprocesses import guarded_environment
from .violations import Violation, ViolationLog

_PLUGIN_NAME = "netguard-session"
_OUTSIDE_TESTS = "the pytest session, outside any test"


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    plugin = NetGuardPlugin()
    config.pluginmanager.register(plugin, _PLUGIN_NAME)
    guard.install(plugin)


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    plugin = config.pluginmanager.get_plugin(_PLUGIN_NAME)
    if plugin is not None:
        guard.uninstall(plugin)
        config.pluginmanager.unregister(plugin)


class NetGuardPlugin:
    """Receives refusals and charges them to the test phase that made them.

    One instance per pytest session (pytester's in-process runs make their own)
    serves as the guard's sink for that session.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._context = _OUTSIDE_TESTS
        self._pending: list[Violation] = []
        self._test_logs: list[ViolationLog] = []
        self._session_logs: list[ViolationLog] = []
        self._unattributed: list[Violation] = []

    # -- the guard's sink ------------------------------------------------

    def context(self) -> str:
        return self._context

    def record(self, violation: Violation) -> None:
        with self._lock:
            self._pending.append(violation)

    # -- bookkeeping for the fixtures --------------------------------------

    def watch(self, log: ViolationLog, *, for_session: bool) -> None:
        """Read ``log`` after each phase of this test, or of every test."""
        with self._lock:
            (self._session_logs if for_session else self._test_logs).append(log)

    def pending(self) -> list[Violation]:
        """Violations not yet charged to a test phase, subprocesses' included."""
        with self._lock:
            for log in (*self._test_logs, *self._session_logs):
                self._pending.extend(log.read_new())
            return list(self._pending)

    def discard(self, violations: Sequence[Violation]) -> None:
        acknowledged = {id(violation) for violation in violations}
        with self._lock:
            self._pending = [v for v in self._pending if id(v) not in acknowledged]

    def take(self) -> list[Violation]:
        taken = self.pending()
        self.discard(taken)
        return taken

    # -- hooks ---------------------------------------------------------------

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_make_collect_report(self, collector: pytest.Collector):
        outer, self._context = self._context, f"collection of {collector.nodeid or 'the session'}"
        try:
            report = yield
        finally:
            self._context = outer
        _charge(report, self.take())
        return report

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_runtest_protocol(self, item: pytest.Item, nextitem: pytest.Item | None):
        self._unattributed += self.take()
        self._context = item.nodeid
        try:
            return (yield)
        finally:
            self._context = _OUTSIDE_TESTS
            with self._lock:
                self._test_logs.clear()

    # tryfirst makes this wrapper the outermost, so it sees the final outcome,
    # after xfail handling, and a violation cannot hide as an expected failure.
    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[None]):
        report = yield
        _charge(report, self.take())
        return report

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        self._unattributed += self.take()
        if self._unattributed and session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def pytest_terminal_summary(self, terminalreporter) -> None:
        if self._unattributed:
            terminalreporter.section("network guard", red=True)
            terminalreporter.line(_describe(self._unattributed))


def _charge(report: pytest.TestReport | pytest.CollectReport, violations: list[Violation]) -> None:
    """Fail ``report`` for ``violations``; add them to its failure if it failed already."""
    if not violations:
        return
    if report.failed:
        report.sections.append(("network guard", _describe(violations)))
        return
    report.outcome = "failed"
    report.longrepr = _describe(violations)
    if hasattr(report, "wasxfail"):
        del report.wasxfail


def _describe(violations: Sequence[Violation]) -> str:
    count = f"{len(violations)} network access{'es' if len(violations) > 1 else ''}"
    header = (
        f"{count} refused by the test network guard (tests/netguard). "
        "A test that provokes one on purpose acknowledges it with "
        "netguard.expect_violation()."
    )
    return "\n".join([header, *(violation.report() for violation in violations)])


class NetGuardHandle:
    """The ``netguard`` fixture: the current test's recorded violations.

    A test that provokes violations on purpose acknowledges them, or it fails::

        with netguard.expect_violation(host="192.0.2.1"), pytest.raises(OSError):
            client.fetch("http://192.0.2.1/")
    """

    def __init__(self, plugin: NetGuardPlugin) -> None:
        self._plugin = plugin

    @property
    def violations(self) -> tuple[Violation, ...]:
        """Recorded and not yet acknowledged, from this process and its watched logs."""
        return tuple(self._plugin.pending())

    def clear(self) -> None:
        """Acknowledge every violation recorded so far."""
        self._plugin.take()

    @contextlib.contextmanager
    def expect_violation(
        self, *, operation: str | None = None, host: str | None = None
    ) -> Iterator[list[Violation]]:
        """Require the block to record a matching violation, and acknowledge it.

        Yields a list that holds the matching violations once the block ends.
        Violations that do not match stay recorded and fail the test.
        """
        before = {id(violation) for violation in self._plugin.pending()}
        caught: list[Violation] = []
        yield caught
        new = [v for v in self._plugin.pending() if id(v) not in before]
        caught += [v for v in new if operation in (None, v.operation) and host in (None, v.host)]
        if not caught:
            wanted = f"operation={operation!r}, host={host!r}"
            seen = "".join(f"\n  {v.summary()}" for v in new) or " none"
            pytest.fail(f"expected a network guard violation ({wanted}); recorded:{seen}")
        self._plugin.discard(caught)


def _plugin(config: pytest.Config) -> NetGuardPlugin:
    plugin = config.pluginmanager.get_plugin(_PLUGIN_NAME)
    if plugin is None:
        raise RuntimeError("the network guard plugin is not configured")
    return plugin


@pytest.fixture
def netguard(request: pytest.FixtureRequest) -> NetGuardHandle:
    return NetGuardHandle(_plugin(request.config))


@pytest.fixture
def guarded_env(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, str]:
    """An environment that guards Python subprocesses of this test.

    Pass it as ``env=`` to subprocess calls; the test fails if a child reports
    a violation it does not acknowledge with ``netguard.expect_violation()``.
    """
    log = ViolationLog(tmp_path_factory.mktemp("netguard") / "violations.jsonl")
    _plugin(request.config).watch(log, for_session=False)
    return guarded_environment(log.path, context=request.node.nodeid)


@pytest.fixture(scope="session")
def session_guarded_env(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Mapping[str, str]:
    """A read-only ``guarded_env`` for subprocesses of session-scoped fixtures."""
    log = ViolationLog(tmp_path_factory.mktemp("netguard") / "violations.jsonl")
    _plugin(request.config).watch(log, for_session=True)
    env = guarded_environment(log.path, context="a subprocess of a session-scoped fixture")
    return types.MappingProxyType(env)
