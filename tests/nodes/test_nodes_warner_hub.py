"""The warner inside the real hub: the batch path and the one-at-a-time reference decide
the same warnings, call by call, on today's SRBM-salvo trial.

``tests/alerts/test_alerts_warner_fast.py`` replays a recording of the hub's calls; this
runs a Monte Carlo trial now (``run_trial``: scenario, sensors, national trackers, the
link, the hub), so that a change upstream (fusion, prediction, release) that reaches
the warner with inputs the recording does not hold is compared too. The hub is given a
twin warner: every call goes to a fast and a reference warner, their messages must be
equal byte for byte, the fast one's are sent. Midway, the fast warner's snapshot goes
through JSON into a third warner, which from then on must send the same messages too
(a hub restarted at that cycle).
"""

from __future__ import annotations

import dataclasses
import json

import msgspec
import pytest

import trilink.nodes.warnings as warnings_mod
from trilink.evaluate.montecarlo import run_trial
from trilink.scenario import load_scenario


@pytest.mark.slow
def test_fast_and_reference_warners_agree_inside_a_salvo_trial(monkeypatch):
    real = warnings_mod.make_warner
    seen = {"calls": 0, "tracks": 0, "warnings": 0, "kinds": set()}
    twins = []

    def twin_factory(scenario):
        fast, ref = real(scenario), real(scenario)
        ref.fast = False
        twins.append(fast)

        resumed = []

        def call(partner, tracks, t_ns):
            got = fast(partner, tracks, t_ns)
            encoded = [msgspec.msgpack.encode(w) for w in got]
            want = ref(partner, tracks, t_ns)
            assert encoded == [msgspec.msgpack.encode(w) for w in want], f"{partner} {t_ns}"
            if resumed:
                again = resumed[0](partner, tracks, t_ns)
                assert [msgspec.msgpack.encode(w) for w in again] == encoded
            elif seen["tracks"] > 2000 and partner == "USA":  # the cycle's last partner
                resumed.append(real(scenario))
                resumed[0].restore(json.loads(json.dumps(fast.snapshot(), allow_nan=False)))
                seen["open_at_restart"] = sum(len(s._threads) for s in fast.states.values())
            seen["calls"] += 1
            seen["tracks"] += len(tracks)
            seen["warnings"] += len(got)
            seen["kinds"] |= {(w.msg_type, w.urgency) for w in got}
            return got

        return call

    monkeypatch.setattr(warnings_mod, "make_warner", twin_factory)
    sc = load_scenario("korea-japan")
    sc = dataclasses.replace(
        sc, launches=tuple(x for x in sc.launches if x.id in ("srbm-1", "srbm-2", "srbm-3"))
    )
    run_trial(sc, "trilateral", 7)
    assert seen["calls"] > 1000 and seen["tracks"] > 3000
    assert seen["warnings"] >= 20
    assert {("Alert", "Expected"), ("Cancel", "Past")} <= seen["kinds"]
    assert len(twins) == 1 and seen["open_at_restart"] >= 3  # restarted with threads open
