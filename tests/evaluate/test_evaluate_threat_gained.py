"""Threat-alert seconds gained by the link, measured against each nation alone.

Alone, each nation runs the warning rules on its own tracks (``NationalNode.own_warner``),
so the first threat alert exists in every configuration and the summary pairs it by
seed, as it pairs the first warning. The runs use a tiny scenario in the manner of
``test_evaluate_montecarlo.py``: the built-in scenario's third SRBM (Wonsan into the Sea
of Japan between Korea's and Japan's zones, whose ellipse reaches Korea's zone ~40 s
after launch), launched 5 s after the start, for 75 s of its flight.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from trilink.evaluate.configs import ALONE, TRILATERAL
from trilink.evaluate.mc_summary import quantile, summarise, time_to_impact_at_warning
from trilink.evaluate.montecarlo import TrialResult, run_trial
from trilink.evaluate.report import headline_table, times_table
from trilink.scenario import load_scenario

S = 1_000_000_000
SEEDS = (1, 2)


@pytest.fixture(scope="module")
def trials() -> list[TrialResult]:
    full = load_scenario("korea-japan")
    srbm = next(x for x in full.launches if x.id == "srbm-3")
    srbm = dataclasses.replace(srbm, launch_t_ns=full.start_t_ns + 5 * S)
    tiny = dataclasses.replace(full, launches=(srbm,), duration_s=80.0)
    return [run_trial(tiny, c, s) for s in SEEDS for c in (ALONE, TRILATERAL)]


def test_alone_trials_measure_threat_alerts(trials: list[TrialResult]) -> None:
    alone = [t for t in trials if t.config == ALONE]
    threat = [t.partners["KOR"]["srbm-3"]["first_threat_alert_s"] for t in alone]
    # Korea's own radars see the SRBM from its launch; its own ellipse reaches its zone
    # within the 75 s run, after its first (launch) warning.
    assert all(math.isfinite(x) and 0 < x < 75 for x in threat)
    for t in alone:
        s = t.partners["KOR"]["srbm-3"]
        assert s["first_threat_alert_s"] >= s["first_warning_s"]
    assert all(t.messages == 0 for t in alone)  # alone still sends nothing


def test_summary_threat_alert_gained_is_paired_by_seed(trials: list[TrialResult]) -> None:
    summary = summarise(trials)
    by = {(t.config, t.seed): t for t in trials}
    for partner in ("USA", "KOR", "JPN"):
        tri = summary["partners"][partner][TRILATERAL]["SRBM"]
        assert "threat_alert_gained_s" not in summary["partners"][partner][ALONE]["SRBM"]
        diffs, both = [], []
        for seed in SEEDS:
            s, a = (by[(c, seed)].partners[partner]["srbm-3"] for c in (TRILATERAL, ALONE))
            flight = by[(ALONE, seed)].missiles["srbm-3"]["flight_s"]
            key = "first_threat_alert_s"
            d = time_to_impact_at_warning(s, flight, key) - time_to_impact_at_warning(
                a, flight, key
            )
            diffs.append(d)
            if math.isfinite(s[key]) and math.isfinite(a[key]):
                both.append(d)
                assert abs(d) < 20  # the same threat seen a little earlier or later
            elif math.isfinite(a[key]):  # alerted alone only: all that warning is lost
                assert d == pytest.approx(a[key] - flight)
            elif math.isfinite(s[key]):
                assert d == pytest.approx(flight - s[key])
            else:
                assert d == 0.0
        g = tri["threat_alert_gained_s"]
        assert g["n"] == len(SEEDS) and g["both"] == len(both)
        assert g["median"] == pytest.approx(quantile(np.array(diffs), 0.5), abs=1e-3)
        assert g["p10"] <= g["median"] <= g["p90"]
        assert g["both_median"] == (pytest.approx(quantile(both, 0.5), abs=1e-3) if both else None)
    korea = summary["partners"]["KOR"][TRILATERAL]["SRBM"]["threat_alert_gained_s"]
    assert korea["both"] == len(SEEDS)  # Korea is alerted alone and linked in each seed
    rows = {(r["partner"], r["config"]): r for r in summary["headline"]}
    assert rows[("KOR", TRILATERAL)]["threat_alert_gained_median_s"] == korea["median"]
    assert rows[("KOR", ALONE)]["threat_alert_gained_median_s"] is None
    assert "alerted in both" in times_table(summary)
    assert "threat alert gained vs alone" in headline_table(summary)
