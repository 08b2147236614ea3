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


def test_merge_candidates_equal_the_plain_gate_then_disjoint_filter():
    # The early exits (no two candidates fed by disjoint nations) must not lose a pair:
    # against gating every pair and keeping the disjoint ones, on random small tables.
    from trilink.fusion.gating import self_gated_pairs

    rng = np.random.default_rng(7)
    found = 0
    for _ in range(200):
        m = int(rng.integers(2, 7))
        x = rng.normal(0.0, float(rng.choice([3.0, 10.0, 30.0])), (m, 6))
        P = np.broadcast_to(np.eye(6) * 100.0, (m, 6, 6)).copy()
        bits = rng.integers(0, 8, m).astype(np.int64)  # 3 nations; 0 = coasting
        ia, ib, d2 = merge_candidates(x, P, bits, gate=27.9)
        ra, rb, rd = self_gated_pairs(x, P, 27.9)
        keep = (bits[ra] & bits[rb]) == 0
        full = np.bitwise_or.reduce(bits)
        if np.all(bits != 0):  # tracks fed by every nation are not searched
            keep &= (bits[ra] != full) & (bits[rb] != full)
        got = sorted(zip(ia.tolist(), ib.tolist(), d2.tolist(), strict=True))
        want = sorted(zip(ra[keep].tolist(), rb[keep].tolist(), rd[keep].tolist(), strict=True))
        assert got == want
        found += bool(want)
    assert found > 50  # the comparison is not vacuous: many tables do have candidates


def test_tracks_sharing_a_nation_are_never_merge_candidates_even_when_they_coincide():
    P = np.broadcast_to(np.eye(6) * 100.0, (3, 6, 6)).copy()
    x = np.zeros((3, 6))  # all three at one point
    bits = np.array([0b011, 0b001, 0b101], np.int64)  # every pair shares bit 0
    ia, ib, d2 = merge_candidates(x, P, bits, gate=27.9)
    assert ia.size == ib.size == d2.size == 0


def test_the_empty_batch_is_one_read_only_instance():
    a, b = NationalTrackBatch.empty(), NationalTrackBatch.empty()
    assert a is b and len(a) == 0
    assert a.lost is not None and not a.lost.flags.writeable
    assert not (a.x.flags.writeable or a.P.flags.writeable or a.source.flags.writeable)


def test_an_empty_table_picture_has_the_shapes_and_dtypes_of_a_full_one():
    x0 = salvo_initial_states(1, 0.0)
    table = SystemTrackTable()
    empty = table.update(NationalTrackBatch.empty(), T0_NS)
    run = simulate(x0, [View(KOR, "k", 0)], np.arange(0.0, 2.0), table, seed=22)
    full = run.pictures[-1]
    assert len(empty) == 0 and len(full) == 1
    assert empty.x.shape == (0, 6) and empty.P.shape == (0, 6, 6)
    for name in ("number", "x", "P", "first_seen_ns", "last_report_ns", "merged_into"):
        assert getattr(empty, name).dtype == getattr(full, name).dtype, name
    assert empty.status.dtype.kind == empty.phase.dtype.kind == "U"
    assert empty.contributors == () and empty.live().size == 0


def test_a_batch_with_repeated_reports_keeps_each_tracks_newest():
    x0 = salvo_initial_states(1, 0.0)
    table = SystemTrackTable()
    eye = np.eye(6) * 1e4
    x1, x2 = x0[0], x0[0] + np.array([100.0, 0, 0, 0, 0, 0])

    def batch(rows):
        return NationalTrackBatch.from_rows(
            [("KOR", lid, t, x, eye, "boost") for lid, t, x in rows]
        )

    # Track "a" twice, the newer first; track "b" once.
    table.update(batch([("a", T0_NS + NS, x2), ("a", T0_NS, x1), ("b", T0_NS, x1)]), T0_NS + NS)
    rows = {k: r for k, r in table.nat.index.items()}
    assert table.nat.t_ns[rows[("KOR", "a")]] == T0_NS + NS
    assert np.array_equal(table.nat.x[rows[("KOR", "a")]], x2)
    # An older report of "a" and a newer one of "b" in one batch: only "b" moves.
    table.update(batch([("a", T0_NS, x1), ("b", T0_NS + NS, x2)]), T0_NS + 2 * NS)
    assert np.array_equal(table.nat.x[rows[("KOR", "a")]], x2)
    assert table.nat.fresh.tolist() == [False, True]
    assert np.array_equal(table.nat.x[rows[("KOR", "b")]], x2)
