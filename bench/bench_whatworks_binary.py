"""Time `what_works` on the demo config (binary boost) in the tree on PYTHONPATH.

Run once per tree to compare them (the binary path must not slow down when other treatment
kinds are added), e.g.::

    PYTHONPATH=/path/to/main nice python bench/bench_whatworks_binary.py main
    PYTHONPATH=$PWD nice python bench/bench_whatworks_binary.py branch

Prints the label, the seconds, the load average and the four average effects (equal effects:
the same computation).
"""

from __future__ import annotations

import os
import sys
import time

import causal
from causal.cli._demo import DEMO_WHATWORKS_CONFIG
from causal.workflows import parse_whatworks_config, what_works

ROWS = 4_000


def main(label: str) -> None:
    df = causal.simulate_content(n=ROWS, seed=1)
    cfg = parse_whatworks_config({**DEMO_WHATWORKS_CONFIG, "seed": 1})
    t = time.perf_counter()
    ww = what_works(df, cfg.design, progress=False, **cfg.options)
    seconds = time.perf_counter() - t
    effects = [round(o.effect, 6) for o in ww.outcomes]
    print(label, f"{seconds:.1f}s", "load", os.getloadavg(), effects)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "this tree")
