"""Network guard for the test suite: tests may only talk to loopback.

Modules, from the bottom up:

- ``policy``: what a test may reach (pure decisions, no side effects);
- ``violations``: the record of a refusal, its exception, and the JSON-lines log
  that guarded subprocesses write;
- ``guard``: the process-wide socket patches that refuse before anything is sent;
- ``subprocesses``: the environment protocol that guards child Python processes
  (used by ``site/sitecustomize.py``);
- ``plugin``: the pytest plugin that turns refusals into test failures.

This package must stay importable without pytest: ``site/sitecustomize.py``
loads it, under a private name, at the start of every guarded subprocess.
"""
