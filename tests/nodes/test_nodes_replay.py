"""``trilink replay``: a recording's national traffic fed to a fresh hub gives the
releases the recorded hub sent, message for message (the hub fuses on watermarks)."""

import dataclasses

from trilink.nodes.replay import replay
from trilink.nodes.simrun import RunConfig, run_simulation
from trilink.scenario import load_scenario, simulate


def test_replay_reproduces_every_recorded_release(tmp_path):
    sc = load_scenario("korea-japan")
    sc = dataclasses.replace(
        sc, launches=tuple(x for x in sc.launches if x.id in ("srbm-1", "srbm-2"))
    )
    sim = simulate(sc, seed=3)
    run_simulation(sc, sim, RunConfig(record_dir=tmp_path))
    result = replay(tmp_path)
    assert result.fed > 1000
    assert sum(len(v) for v in result.recorded.values()) > 1000
    assert result.mismatches() == []
