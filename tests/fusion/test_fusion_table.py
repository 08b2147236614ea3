"""System track table: association across nations, numbering, decorrelation, merging."""

from __future__ import annotations

import numpy as np
import pytest
from fusion_scenarios import NS, T0_NS, View, numbers_per_object, simulate
from scipy.stats import chi2

from trilink.fusion import FusionConfig, NationalTrackBatch, SystemTrackTable
from trilink.fusion.align import align
from trilink.fusion.synthetic import JPN, KOR, NationModel, salvo_initial_states
from trilink.geo.wgs84 import DEG

USA = NationModel("USA", (40.9 * DEG, 140.3 * DEG, 50.0), 30.0, 600.0, 5.0, 60.0)


def _live(picture):
    return sorted(picture.number[picture.live()].tolist())


def _contributors(picture, number):
    est = picture.get(number)
    return set() if est is None else set(est.contributors)


def test_two_nations_one_salvo_of_three_gives_three_stable_numbers():
    x0 = salvo_initial_states(3, 20.0)
    views = [View(KOR, f"k{i}", i) for i in range(3)]
    views += [View(JPN, f"j{i}", i, latency_s=0.7) for i in range(3)]
    run = simulate(x0, views, np.arange(0.0, 150.0), SystemTrackTable(), seed=1)
    first = numbers_per_object(run.pictures[0], run.truth[0])
    assert sorted(n for nums in first.values() for n in nums) == [1, 2, 3]
    for i, (pic, truth) in enumerate(zip(run.pictures, run.truth, strict=True)):
        assert _live(pic) == [1, 2, 3]
        assert numbers_per_object(pic, truth) == first
        if i >= 3:  # confirmation takes M = 3 reports (updates 0, 1, 2)
            assert all(est.sources == ("JPN", "KOR") for est in pic)
            assert pic.events == ()


@pytest.mark.parametrize("two_seer", [KOR, JPN])
def test_one_nation_sees_two_missiles_the_other_one(two_seer):
    one_seer = JPN if two_seer is KOR else KOR
    x0 = salvo_initial_states(2, 20.0)
    views = [View(two_seer, "a0", 0), View(two_seer, "a1", 1), View(one_seer, "b0", 0)]
    run = simulate(x0, views, np.arange(0.0, 90.0), SystemTrackTable(), seed=2)
    expected = numbers_per_object(run.pictures[0], run.truth[0])
    assert all(len(v) == 1 for v in expected.values())
    common, extra = expected[0][0], expected[1][0]
    for pic, truth in zip(run.pictures[5:], run.truth[5:], strict=True):
        assert _live(pic) == sorted([common, extra])
        assert numbers_per_object(pic, truth) == expected
        assert _contributors(pic, common) == {(two_seer.name, "a0"), (one_seer.name, "b0")}
        assert _contributors(pic, extra) == {(two_seer.name, "a1")}


def test_a_track_swap_is_decorrelated_and_never_merges_two_objects():
    x0 = salvo_initial_states(2, 20.0)
    views = [
        View(KOR, "k0", 0),
        View(KOR, "k1", 1),
        View(JPN, "j", lambda t: 0 if t < 40.0 else 1),  # JPN's tracker jumps to missile 1
    ]
    run = simulate(x0, views, np.arange(0.0, 80.0), SystemTrackTable(), seed=3)
    numbers = numbers_per_object(run.pictures[0], run.truth[0])
    n0, n1 = numbers[0][0], numbers[1][0]
    assert all(_live(p) == sorted([n0, n1]) for p in run.pictures)
    events = [e for p in run.pictures for e in p.events]
    split = [e for e in events if e.kind == "decorrelate"]
    assert [(e.number, e.source, e.local_id) for e in split] == [(n0, "JPN", "j")]
    assert 40 * NS <= split[0].t_ns - T0_NS <= 44 * NS  # K = 3 reports after the jump
    final = run.pictures[-1]
    assert _contributors(final, n0) == {("KOR", "k0")}
    assert _contributors(final, n1) == {("KOR", "k1"), ("JPN", "j")}


@pytest.mark.parametrize("gap_s", [0.0, 3.0, 10.0])
@pytest.mark.parametrize("with_partner", [True, False])
def test_a_reinitiated_national_track_keeps_its_system_number(gap_s, with_partner):
    x0 = salvo_initial_states(1, 0.0)
    views = [View(KOR, "k-old", 0, end_s=30.0), View(KOR, "k-new", 0, start_s=30.0 + gap_s)]
    if with_partner:
        views.append(View(JPN, "j", 0, latency_s=0.6))
    run = simulate(x0, views, np.arange(0.0, 70.0), SystemTrackTable(), seed=4)
    issued = {e.number for p in run.pictures for e in p.events if e.kind == "new"}
    assert issued == {1}
    assert all(_live(p) == [1] for p in run.pictures)
    final = _contributors(run.pictures[-1], 1)
    assert ("KOR", "k-new") in final and ("KOR", "k-old") not in final


def test_booster_beside_its_rv_gets_its_own_number_and_the_rv_keeps_its_own():
    rv = salvo_initial_states(1, 0.0)[0]
    booster = rv.copy()
    booster[3:] *= 1.0 - 40.0 / np.linalg.norm(rv[3:])  # separated 40 m/s slower
    x0 = np.stack([rv, booster])
    views = [
        View(KOR, "k-rv", 0),
        View(JPN, "j-rv", 0),
        View(KOR, "k-booster", 1, start_s=10.0),  # KOR resolves the booster at t = 10 s
    ]
    run = simulate(x0, views, np.arange(0.0, 60.0), SystemTrackTable(), seed=5)
    assert all(_live(p) == [1] for p in run.pictures[:10])
    new = [e for p in run.pictures for e in p.events if e.kind == "new"]
    assert [(e.number, e.local_id) for e in new] == [(1, "k-rv"), (2, "k-booster")] or [
        (e.number, e.local_id) for e in new
    ] == [(1, "j-rv"), (2, "k-booster")]
    assert new[1].t_ns - T0_NS <= 15 * NS  # a full M-of-N window beside a held track
    for p in run.pictures[16:]:
        assert _live(p) == [1, 2]
        assert _contributors(p, 1) == {("KOR", "k-rv"), ("JPN", "j-rv")}
        assert _contributors(p, 2) == {("KOR", "k-booster")}


def test_separating_objects_tracked_crosswise_end_as_two_clean_tracks():
    # KOR follows the RV, JPN the booster, from a common start: the early pairing must
    # be split once they clearly differ, and no number may keep two objects.
    rv = salvo_initial_states(1, 0.0)[0]
    booster = rv.copy()
    booster[3:] *= 1.0 - 100.0 / np.linalg.norm(rv[3:])
    x0 = np.stack([rv, booster])
    views = [View(KOR, "k-rv", 0), View(JPN, "j-booster", 1), View(KOR, "k-booster", 1, 8.0)]
    run = simulate(x0, views, np.arange(0.0, 100.0), SystemTrackTable(), seed=6)
    final = run.pictures[-1]
    live = _live(final)
    assert len(live) == 2
    groups = [{lid for _, lid in _contributors(final, n)} for n in live]
    assert sorted(map(sorted, groups)) == [["j-booster", "k-booster"], ["k-rv"]]
    assert any(e.kind == "decorrelate" for p in run.pictures for e in p.events)


def test_duplicate_system_tracks_of_one_object_are_merged_into_the_older_number():
    x0 = salvo_initial_states(1, 0.0)
    views = [View(JPN, "j", 0, latency_s=0.5), View(KOR, "k", 0)]

    def bias(view, t):  # JPN starts 30 km off (bad early registration), fixed by t = 15 s
        b = np.zeros(6)
        if view.nation is JPN:
            b[:3] = 30e3 * max(0.0, 1.0 - t / 15.0) / np.sqrt(3)
        return b

    run = simulate(x0, views, np.arange(0.0, 40.0), SystemTrackTable(), seed=7, bias=bias)
    assert _live(run.pictures[0]) == [1, 2]
    merges = [e for p in run.pictures for e in p.events if e.kind == "merge"]
    assert [(e.number, e.other) for e in merges] == [(2, 1)]
    for p in run.pictures[-10:]:
        assert _live(p) == [1]
        assert _contributors(p, 1) == {("JPN", "j"), ("KOR", "k")}
    merged_at = next(
        i for i, p in enumerate(run.pictures) if any(e.kind == "merge" for e in p.events)
    )
    assert run.pictures[merged_at].get(2).status == "merged"
    # Its last state is its coast, never NaN: the hub sends it as the track's "lost".
    gone = run.pictures[merged_at].get(2)
    assert np.isfinite(gone.x).all() and np.isfinite(gone.P).all()
    assert all(p.get(2) is None for p in run.pictures[merged_at + 1 :])


def test_lost_object_coasts_then_drops_and_its_number_is_never_reissued():
    x0 = salvo_initial_states(2, 60.0)  # object 1 appears on its own a minute later
    cfg = FusionConfig(coast_limit_s=15.0)
    views = [View(KOR, "a", 0, end_s=20.0), View(KOR, "b", 1, start_s=70.0)]
    run = simulate(x0, views, np.arange(0.0, 80.0), SystemTrackTable(cfg), seed=8)
    status = [p.get(1).status if p.get(1) else None for p in run.pictures]
    assert status[:25] == ["active"] * 25  # last report 18.7 s; the national track lives 6 s
    assert "coasting" in status and status.count("dropped") == 1
    drop = status.index("dropped")
    assert all(s is None for s in status[drop + 1 :])
    assert drop == 34  # 15 s of coasting after the last report at 18.7 s
    assert _live(run.pictures[-1]) == [2]


def test_snapshot_restores_numbers_and_continues_identically(tmp_path):
    import json

    x0 = salvo_initial_states(3, 20.0)
    views = [View(KOR, f"k{i}", i) for i in range(3)] + [View(JPN, "j0", 0)]
    table = SystemTrackTable()
    run = simulate(x0, views, np.arange(0.0, 40.0), table, seed=9)
    path = tmp_path / "table.json"
    path.write_text(json.dumps(table.to_dict()))
    restored = SystemTrackTable.from_dict(json.loads(path.read_text()))
    assert restored.to_dict() == table.to_dict()
    for k, batch in enumerate(run.reports[:15]):  # replay some batches at later times
        t = T0_NS + (40 + k) * NS
        shifted = NationalTrackBatch(
            batch.source, batch.local_id, batch.t_ns + 40 * NS, batch.x, batch.P, batch.phase
        )
        a, b = table.update(shifted, t), restored.update(shifted, t)
        np.testing.assert_array_equal(a.number, b.number)
        np.testing.assert_array_equal(a.x, b.x)
        np.testing.assert_array_equal(a.P, b.P)
        assert a.contributors == b.contributors and a.events == b.events
        assert list(a.status) == list(b.status)


def test_fused_tracks_beat_each_nation_and_stay_consistent():
    x0 = salvo_initial_states(3, 20.0)
    views = [View(KOR, f"k{i}", i) for i in range(3)]
    views += [View(JPN, f"j{i}", i, latency_s=0.7) for i in range(3)]
    run = simulate(x0, views, np.arange(0.0, 120.0), SystemTrackTable(), seed=10, rho=0.6)
    sq = {"fused": [], "KOR": [], "JPN": []}
    nees = []
    for pic, truth, batch in list(zip(run.pictures, run.truth, run.reports, strict=True))[3:]:
        for est in pic:
            k = int(np.argmin(np.linalg.norm(truth[:, :3] - est.x[:3], axis=-1)))
            e = est.x - truth[k]
            sq["fused"].append(e[:3] @ e[:3])
            nees.append(e @ np.linalg.solve(est.P, e))
        xa, _ = align(batch.x, batch.P, batch.t_ns, batch.phase, pic.t_ns)
        for src, x in zip(batch.source.tolist(), xa, strict=True):
            k = int(np.argmin(np.linalg.norm(truth[:, :3] - x[:3], axis=-1)))
            sq[src].append(np.sum((x[:3] - truth[k, :3]) ** 2))
    rmse = {k: float(np.sqrt(np.mean(v))) for k, v in sq.items()}
    assert rmse["fused"] < min(rmse["KOR"], rmse["JPN"])
    n = len(nees)
    assert np.mean(nees) < chi2.ppf(0.975, 6 * n) / n


def test_three_nations_fuse_into_one_number_per_object():
    x0 = salvo_initial_states(2, 20.0)
    views = [View(nat, f"{nat.name}{i}", i) for nat in (KOR, JPN, USA) for i in range(2)]
    run = simulate(x0, views, np.arange(0.0, 30.0), SystemTrackTable(), seed=11)
    final = run.pictures[-1]
    assert _live(final) == [1, 2]
    assert all(est.sources == ("JPN", "KOR", "USA") for est in final)


def test_confirmation_counts_national_reports_not_hub_cycles():
    # The hub fuses at 5 Hz, nations report at 1 Hz: M-of-N must still mean 3 reports.
    x0 = salvo_initial_states(1, 0.0)
    table = SystemTrackTable()
    views = [View(KOR, "k", 0), View(JPN, "j", 0)]
    reports = simulate(x0, views, np.arange(0.0, 8.0), SystemTrackTable(), seed=12).reports
    events = []
    for step in range(40):
        batch = reports[step // 5] if step % 5 == 0 else NationalTrackBatch.empty()
        pic = table.update(batch, T0_NS + step * NS // 5)
        assert _live(pic) == [1]
        events += [(step, e.kind) for e in pic.events]
    assert events[0] == (0, "new") and (10, "associate") in events


def test_stale_national_tracks_leave_and_are_reported():
    x0 = salvo_initial_states(1, 0.0)
    views = [View(KOR, "k", 0), View(JPN, "j", 0, end_s=10.0)]
    run = simulate(x0, views, np.arange(0.0, 20.0), SystemTrackTable(), seed=13)
    leaves = [(p.t_ns - T0_NS) / NS for p in run.pictures for e in p.events if e.kind == "leave"]
    assert leaves == [15.0]  # last JPN report at 8.7 s (t = 9 s, 0.3 s latency), stale after 6 s
    assert _contributors(run.pictures[-1], 1) == {("KOR", "k")}


def test_batch_rejects_malformed_input():
    good = dict(
        source=["KOR"],
        local_id=["1"],
        t_ns=[0],
        x=np.zeros((1, 6)),
        P=np.eye(6)[None],
        phase=["ballistic"],
    )
    NationalTrackBatch(**good)
    with pytest.raises(ValueError, match="x"):
        NationalTrackBatch(**{**good, "x": np.zeros((1, 3))})
    with pytest.raises(ValueError, match="finite"):
        NationalTrackBatch(**{**good, "P": np.full((1, 6, 6), np.nan)})
    with pytest.raises(ValueError, match="local_id"):
        NationalTrackBatch(**{**good, "local_id": ["1", "2"]})


def test_a_lost_report_releases_the_national_track_at_once():
    # KOR reports k-old lost at 30 s and starts k-new at once: without the lost flag the
    # newcomer waits for k-old to fall silent (2.5 s), with it it joins after 3 reports.
    x0 = salvo_initial_states(1, 0.0)
    views = [View(KOR, "k-old", 0, end_s=31.0), View(KOR, "k-new", 0, start_s=30.0)]
    views.append(View(JPN, "j", 0))
    reports = simulate(x0, views, np.arange(0.0, 40.0), SystemTrackTable(), seed=14).reports
    joined = {}
    for flagged in (False, True):
        table = SystemTrackTable()
        for k, batch in enumerate(reports):
            lost = (batch.local_id == "k-old") & (k == 30) & flagged
            keep = (batch.local_id != "k-old") | (k < 30) | lost
            b = batch.select(np.flatnonzero(keep))
            b = NationalTrackBatch(b.source, b.local_id, b.t_ns, b.x, b.P, b.phase, lost[keep])
            pic = table.update(b, T0_NS + k * NS)
            assert _live(pic) == [1]
            for e in pic.events:
                if e.kind == "associate" and e.local_id == "k-new":
                    joined[flagged] = k
                if flagged and e.kind == "leave" and e.local_id == "k-old":
                    assert k == 30
    assert joined == {True: 32, False: 34}
