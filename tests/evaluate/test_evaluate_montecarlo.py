"""Monte Carlo trials: configurations as policy, perturbations, determinism, executors.

The runs use a tiny scenario: the built-in scenario's first SRBM, launched 5 s after the
start, for 40 s of flight (long enough for every nation's first track and Japan's first
link track, ~1-2 s per trial once warm).
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from trilink.evaluate.configs import (
    ALONE,
    BILATERAL,
    CONFIGS,
    TRILATERAL,
    bilateral_policy,
    configure,
    parse_configs,
)
from trilink.evaluate.mc_extract import assign_missiles, held_at, mark_grid
from trilink.evaluate.montecarlo import (
    Jitter,
    TrialResult,
    perturb,
    run_trial,
    run_trials,
    scenario_from_payload,
    scenario_payload,
    trial_to_json,
)
from trilink.geo.geodesic import geodesic_inverse
from trilink.policy import Policy
from trilink.scenario import load_scenario
from trilink.scenario.model import Scenario

S = 1_000_000_000


@pytest.fixture(scope="module")
def full() -> Scenario:
    return load_scenario("korea-japan")


@pytest.fixture(scope="module")
def tiny(full: Scenario) -> Scenario:
    srbm = next(x for x in full.launches if x.id == "srbm-1")
    srbm = dataclasses.replace(srbm, launch_t_ns=full.start_t_ns + 5 * S)
    return dataclasses.replace(full, launches=(srbm,), duration_s=45.0)


@pytest.fixture(scope="module")
def trials(tiny: Scenario) -> dict[str, TrialResult]:
    """One trial per configuration under seed 7 (shared by the tests below)."""
    return {c: run_trial(tiny, c, 7) for c in (BILATERAL, TRILATERAL)}


def _canon(r: TrialResult) -> dict:
    out = trial_to_json(r)
    out.pop("wall_s")
    out.pop("extra")  # the trial's CPU time
    return out


# --- configurations ---------------------------------------------------------------------


def test_bilateral_policy_removes_partner_to_partner_releases(full: Scenario) -> None:
    sc, link = configure(full, BILATERAL)
    assert link
    pol = Policy.from_table(dict(sc.policy))
    for kind in ("system_track", "launch_event", "warning"):
        assert not pol.decide(kind, ["KOR"], "JPN").allowed
        assert not pol.decide(kind, ["JPN"], "KOR").allowed
        assert pol.decide(kind, ["KOR"], "USA").allowed
        assert pol.decide(kind, ["JPN"], "USA").allowed
        assert pol.decide(kind, ["USA"], "JPN").allowed
        assert pol.decide(kind, ["USA"], "KOR").allowed
    # A track fused from Korean and U.S. data may not go to Japan as it is.
    assert not pol.decide("system_track", ["KOR", "USA"], "JPN").allowed
    # Redactions are kept; the scenario itself is untouched (trilateral shares).
    assert sc.policy["always_redact"] == full.policy["always_redact"]
    assert Policy.from_table(dict(full.policy)).decide("system_track", ["KOR"], "JPN").allowed


def test_bilateral_policy_splits_wildcard_sources() -> None:
    table = {"rules": [{"source": "*", "kinds": ["*"], "to": ["*"], "redact": ["x"]}]}
    out = bilateral_policy(table, "USA", ["USA", "KOR", "JPN"])
    by_source = {r["source"]: r["to"] for r in out["rules"]}
    assert by_source == {"USA": ["*"], "KOR": ["USA"], "JPN": ["USA"]}
    assert all(r["redact"] == ["x"] for r in out["rules"])
    assert table["rules"][0]["source"] == "*"  # the input is not mutated


def test_configure_and_parse(full: Scenario) -> None:
    assert configure(full, ALONE) == (full, False)
    assert configure(full, TRILATERAL) == (full, True)
    assert parse_configs("trilateral, alone") == (ALONE, TRILATERAL)  # report order
    with pytest.raises(ValueError, match="unknown"):
        parse_configs("alone,quadrilateral")
    with pytest.raises(ValueError):
        configure(full, "nope")
    assert list(CONFIGS) == [ALONE, BILATERAL, TRILATERAL]


# --- perturbations ------------------------------------------------------------------------


def test_perturb_zero_jitter_is_identity_and_seeded(full: Scenario) -> None:
    assert perturb(full, 3, Jitter()).launches == full.launches
    j = Jitter(launch_time_s=3.0, site_spread_m=20e3, azimuth_spread_rad=math.radians(5))
    assert perturb(full, 3, j) == perturb(full, 3, j)
    assert perturb(full, 3, j).launches != perturb(full, 4, j).launches


def test_perturb_stays_within_the_spreads(full: Scenario) -> None:
    j = Jitter(launch_time_s=2.0, site_spread_m=15e3, azimuth_spread_rad=math.radians(4))
    for seed in range(40):
        for old, new in zip(full.launches, perturb(full, seed, j).launches, strict=True):
            assert abs(new.launch_t_ns - old.launch_t_ns) <= 2 * S
            d, _, _ = geodesic_inverse(
                old.launch_lat_rad, old.launch_lon_rad, new.launch_lat_rad, new.launch_lon_rad
            )
            assert d <= 15e3 + 1e-6
            if old.aimed_at_point:  # azimuth from the new site to the old aim point, +-4 deg
                _, az0, _ = geodesic_inverse(
                    new.launch_lat_rad, new.launch_lon_rad, old.impact_lat_rad, old.impact_lon_rad
                )
                assert new.impact_lat_rad is None and new.range_m is not None
            else:
                az0 = old.azimuth_rad
            dz = (new.azimuth_rad - az0 + math.pi) % (2 * math.pi) - math.pi
            assert abs(dz) <= math.radians(4) + 1e-12


def test_scenario_payload_round_trip(full: Scenario) -> None:
    import pickle

    payload = pickle.loads(pickle.dumps(scenario_payload(full)))
    assert scenario_from_payload(payload) == full


# --- extraction helpers -------------------------------------------------------------------


def test_mark_grid_and_held_at() -> None:
    g = mark_grid(700.0)
    assert g[0] == 0 and g[1] == 5 and 600 in g and g[-1] == 690 and 605 not in g
    held = np.array([10, 20, 30], dtype=np.int64) * S
    marks = np.array([5, 10, 25, 45], dtype=np.int64) * S
    # Nothing before 10 s; 25 s holds the 20 s row; at 45 s the 30 s row is 15 s old.
    assert held_at(held, marks, 10 * S).tolist() == [-1, 0, 1, -1]
    assert held_at(np.zeros(0, np.int64), marks, S).tolist() == [-1] * 4


def test_assign_missiles_gate(tiny: Scenario) -> None:
    from trilink.scenario import simulate

    traj = simulate(dataclasses.replace(tiny, duration_s=10.0), seed=1).trajectories
    t = np.array([traj[0].launch_t_ns + 20 * S] * 3 + [traj[0].launch_t_ns - S])
    r, _, _ = traj[0].state_at(t)
    x = r + np.array([[0, 0, 0], [30e3, 0, 0], [70e3, 0, 0], [0, 0, 0]])
    assert assign_missiles(x, t, traj, 60e3).tolist() == [0, 0, -1, -1]  # last: before launch


# --- trials -------------------------------------------------------------------------------


def test_trial_is_small_and_picklable(trials: dict[str, TrialResult]) -> None:
    import pickle

    blob = pickle.dumps(trials[TRILATERAL])
    assert len(blob) < 50_000
    r = pickle.loads(blob)
    assert set(r.partners) == {"USA", "KOR", "JPN"}
    m = r.partners["JPN"]["srbm-1"]
    assert m["t_s"].dtype == np.float32 and m["impact_err_m_picture"].shape == m["t_s"].shape


def test_same_seed_same_trial(tiny: Scenario, trials: dict[str, TrialResult]) -> None:
    again = run_trial(tiny, TRILATERAL, 7)
    assert _canon(again) == _canon(trials[TRILATERAL])
    other = run_trial(tiny, TRILATERAL, 8)
    assert _canon(other) != _canon(trials[TRILATERAL])


def test_bilateral_japan_gets_nothing_only_korea_saw(trials: dict[str, TrialResult]) -> None:
    bi, tri = trials[BILATERAL], trials[TRILATERAL]
    usa_own = bi.partners["USA"]["srbm-1"]["first_own_track_s"]
    kor_own = bi.partners["KOR"]["srbm-1"]["first_own_track_s"]
    assert kor_own < usa_own  # Korea's radars hold the missile first in this geometry
    # Bilateral: Japan's first link track needs U.S. data (plus a fusion cycle and the link).
    assert bi.partners["JPN"]["srbm-1"]["first_link_track_s"] >= usa_own
    # Trilateral: Korea's track reaches Japan before the U.S. has one of its own.
    assert tri.partners["JPN"]["srbm-1"]["first_link_track_s"] < usa_own
    # Korea's own picture is the same either way (its own data always returns to it).
    assert (
        bi.partners["KOR"]["srbm-1"]["first_warning_s"]
        == tri.partners["KOR"]["srbm-1"]["first_warning_s"]
    )


def test_alone_has_no_link(tiny: Scenario) -> None:
    r = run_trial(tiny, ALONE, 7)
    for per in r.partners.values():
        assert math.isnan(per["srbm-1"]["first_link_track_s"])
        assert np.isnan(per["srbm-1"]["impact_err_m_link"]).all()
    assert r.latency_ms["JPN"]["all"] == {} and "link" not in r.siap["JPN"]
    assert r.partners["KOR"]["srbm-1"]["first_own_track_s"] < 40


def test_process_pool_matches_in_process(tiny: Scenario, trials: dict[str, TrialResult]) -> None:
    got = run_trials(tiny, [BILATERAL, TRILATERAL], [7], jobs=2)
    assert [(r.config, r.seed) for r in got] == [(BILATERAL, 7), (TRILATERAL, 7)]
    for r in got:
        assert _canon(r) == _canon(trials[r.config])


def test_dask_local_cluster(tiny: Scenario, trials: dict[str, TrialResult]) -> None:
    from distributed import LocalCluster  # the optional 'dask' extra; CI installs it

    with LocalCluster(
        n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None
    ) as cluster:
        done: list[int] = []
        got = run_trials(
            tiny, [TRILATERAL, BILATERAL], [7], scheduler=cluster.scheduler_address,
            progress=lambda k, n: done.append(k),
        )  # fmt: skip
    assert done == [1, 2]
    assert [r.config for r in got] == [BILATERAL, TRILATERAL]
    for r in got:
        assert _canon(r) == _canon(trials[r.config])
