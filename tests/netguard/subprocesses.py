"""Guarding child Python processes: the environment protocol.

A child started with ``guarded_environment(...)`` finds ``site/sitecustomize.py``
first on its PYTHONPATH; that calls ``install_from_environment()``, which installs
the same guard as the pytest plugin and appends each violation to the JSON-lines
file named by ``NETGUARD_LOG``. The variables are inherited, so the child's
own Python children (``ntd`` starting Scrapy, say) are guarded too.

Not guarded: interpreters started with ``-S`` or ``-I`` (they skip
sitecustomize or PYTHONPATH), and non-Python programs.
"""

from __future__ import annotations

import os
import shlex
import sys
from collections.abc import Mapping
from pathlib import Path

from . import guard
from .violations import Violation, ViolationLog

LOG_VARIABLE = "NETGUARD_LOG"
CONTEXT_VARIABLE = "NETGUARD_CONTEXT"
SITE_DIR = Path(__file__).resolve().parent / "site"


def guarded_environment(
    log_path: str | os.PathLike[str],
    context: str,
    base: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Return a copy of ``base`` (default ``os.environ``) that guards Python children.

    ``context`` names the test on whose behalf the children run; it appears in
    every violation they report.
    """
    env = dict(os.environ if base is None else base)
    inherited = env.get("PYTHONPATH")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(SITE_DIR), inherited]))
    env[LOG_VARIABLE] = str(log_path)
    env[CONTEXT_VARIABLE] = context
    return env


class _SubprocessSink:
    """Reports a child's violations to the log its test's plugin reads."""

    def __init__(self, log: ViolationLog, test: str) -> None:
        self._log = log
        self._test = test

    def context(self) -> str:
        # Read lazily: sys.argv does not exist yet while sitecustomize runs.
        command = shlex.join(getattr(sys, "argv", []))
        return f"{self._test} (subprocess {os.getpid()}: {command})"

    def record(self, violation: Violation) -> None:
        self._log.append(violation)


def install_from_environment() -> bool:
    """Install the guard if this process was started with a guarded environment."""
    log_path = os.environ.get(LOG_VARIABLE)
    if not log_path:
        return False
    test = os.environ.get(CONTEXT_VARIABLE, "an unnamed test")
    guard.install(_SubprocessSink(ViolationLog(log_path), test))
    return True
