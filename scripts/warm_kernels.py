"""Compile (or load) every numba kernel once, before the tests or the demo start.

The kernels cache to disk beside their sources (``__pycache__``), so on a fresh clone the
first process to call each one compiles it: ~60 CPU-s in all. Doing it here, once, keeps
that out of the test suite, where two workers and the subprocesses they start would
otherwise compile the same kernels at the same time and time out waiting for each other.
A run of one SRBM through the nodes, the hub and its warning rules calls every kernel.
"""

from __future__ import annotations

import dataclasses
import time


def main() -> None:
    t0 = time.process_time()
    from trilink.fusion import compiled
    from trilink.nodes.simrun import RunConfig, run_simulation
    from trilink.nodes.warnings import make_warner
    from trilink.scenario import load_scenario, simulate

    compiled.warm_up()
    sc = load_scenario("korea-japan")
    sc = dataclasses.replace(sc, launches=sc.launches[:1])
    run_simulation(sc, simulate(sc, seed=1), RunConfig(), warner_factory=make_warner)
    print(f"kernels ready ({time.process_time() - t0:.1f} CPU-s)")


if __name__ == "__main__":
    main()
