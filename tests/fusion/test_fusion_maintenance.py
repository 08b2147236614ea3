"""Hysteresis, maintenance tests, configuration and snapshot edge cases."""

from __future__ import annotations

import json

import numpy as np
import pytest
from fusion_scenarios import NS, T0_NS, View, simulate

from trilink.fusion import FusionConfig, NationalTrackBatch, SystemTrackTable
from trilink.fusion.maintenance import (
    disputed_pairings,
    least_consistent,
    merge_candidates,
    nation_bits,
)
from trilink.fusion.synthetic import JPN, KOR, salvo_initial_states


def test_a_single_outlier_report_is_held_out_but_does_not_split_the_pairing():
    x0 = salvo_initial_states(1, 0.0)
    views = [View(KOR, "k", 0), View(JPN, "j", 0)]

    def bias(view, t):  # one wild JPN report at t = 30 s (a bad measurement association)
        b = np.zeros(6)
        if view.nation is JPN and t == 30.0:
            b[:3] = 25e3
        return b

    run = simulate(x0, views, np.arange(0.0, 45.0), SystemTrackTable(), seed=20, bias=bias)
    assert not any(e.kind in ("decorrelate", "new") for p in run.pictures[1:] for e in p.events)
    during = run.pictures[30].get(1)
    assert during is not None and set(during.contributors) == {("KOR", "k")}
    after = run.pictures[31].get(1)
    assert after is not None and set(after.contributors) == {("KOR", "k"), ("JPN", "j")}
    # The held-out report never reached the fused estimate.
    err = np.linalg.norm(during.x[:3] - run.truth[30][0, :3])
    assert err < 2e3


def test_disputed_pairings_flags_only_clear_disagreement():
    P = np.broadcast_to(np.eye(6) * 100.0, (4, 6, 6)).copy()
    x = np.zeros((4, 6))
    x[1, 0] = 10.0  # d^2 = 100 / 200 = 0.5 against row 0
    x[3, 0] = 200.0  # d^2 = 200 against row 2
    idx = np.array([[0, 1], [2, 3], [0, -1]])
    assert disputed_pairings(idx, x, P, gate=43.3).tolist() == [False, True, False]


def test_least_consistent_picks_the_contributor_farthest_from_the_reference():
    P = np.broadcast_to(np.eye(6), (3, 6, 6)).copy()
    x = np.zeros((3, 6))
    x[1, 1] = 5.0
    x[2, 2] = 50.0
    idx = np.array([[0, 2, -1], [1, 0, 2]])
    ref = np.zeros((2, 6))
    assert least_consistent(idx, x, P, ref, np.broadcast_to(np.eye(6), (2, 6, 6))).tolist() == [
        2,
        2,
    ]


def test_merge_candidates_need_disjoint_nations_and_a_gate():
    P = np.broadcast_to(np.eye(6) * 100.0, (4, 6, 6)).copy()
    x = np.zeros((4, 6))
    x[3, 0] = 1e5  # far from everything
    source = np.array(["KOR", "JPN", "KOR"], dtype=object)
    idx = np.array([[0, -1], [1, -1], [2, 1], [-1, -1]])  # KOR, JPN, KOR+JPN, none
    bits = nation_bits(idx, source)
    assert bits.tolist() == [2, 1, 3, 0]
    ia, ib, _ = merge_candidates(x, P, bits, gate=27.9)
    assert sorted(zip(ia.tolist(), ib.tolist(), strict=True)) == [(0, 1)]


def test_config_round_trips_and_rejects_nonsense():
    cfg = FusionConfig(confirm_m=2, confirm_n=4, method="ici", criterion="det")
    again = FusionConfig.from_dict(json.loads(json.dumps(cfg.to_dict())))
    assert again == cfg
    with pytest.raises(ValueError, match="confirm"):
        FusionConfig(confirm_m=5, confirm_n=3)
    with pytest.raises(ValueError, match="method"):
        FusionConfig(method="kalman")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="gate_probability"):
        FusionConfig(gate_probability=0.99999999, decorrelation_probability=0.999)


def test_snapshot_of_an_empty_table_and_a_wrong_version():
    table = SystemTrackTable()
    restored = SystemTrackTable.from_dict(json.loads(json.dumps(table.to_dict())))
    pic = restored.update(NationalTrackBatch.empty(), T0_NS)
    assert len(pic) == 0 and restored.next_number == 1
    bad = table.to_dict() | {"version": 99}
    with pytest.raises(ValueError, match="version"):
        SystemTrackTable.from_dict(bad)


def test_update_never_mutates_its_batch_and_older_reports_lose():
    x0 = salvo_initial_states(1, 0.0)
    run = simulate(x0, [View(KOR, "k", 0)], np.arange(0.0, 3.0), SystemTrackTable(), seed=21)
    batch = run.reports[-1]
    assert not batch.x.flags.writeable and not batch.P.flags.writeable
    table = SystemTrackTable()
    table.update(batch, T0_NS + 2 * NS)
    before = table.to_dict()["national"]
    older = NationalTrackBatch(
        batch.source, batch.local_id, batch.t_ns - NS, batch.x + 1e3, batch.P, batch.phase
    )
    table.update(older, T0_NS + 2 * NS)
    assert table.to_dict()["national"]["x"] == before["x"]
