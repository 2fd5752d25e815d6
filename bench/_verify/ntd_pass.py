"""The verification pass alone: `ntd check` without the hosting look-ups after it.

    python ntd_pass.py        (settings from NTD_* as for ntd)

The same code path as `ntd check` (crawler.passes.check) up to the end of the pass:
the asyncio reactor, the safety resolver, the verify spider, the recorder. It exists so
that the benchmark can tell the crawler's cost from hosting resolution's.
"""

import settings as settings_module
from crawler.passes import run_pass, run_with_reactor


def main() -> None:
    ntd = settings_module.load()
    tally = run_with_reactor(lambda: run_pass(ntd))
    outcomes = ", ".join(f"{n} {o}" for o, n in sorted(tally.outcomes.items())) or "none due"
    print(f"checked {tally.checks}: {outcomes}; {tally.changes} state changes")


if __name__ == "__main__":
    main()
