"""The timeline's missile association: the vectorised form equals the one-by-one rule
(nearest missile in flight, strictly within the gate, the first on a tie)."""

from __future__ import annotations

import numpy as np
from conftest import T0, S, make_cv

from trilink.evaluate.timeline import which_missile, which_missiles


def test_which_missiles_equals_which_missile_event_by_event():
    truths = [
        make_cv("a", [6.4e6, 0.0, 0.0], [0.0, 1_000.0, 0.0], 0.0, 100.0),
        make_cv("b", [6.4e6, 30e3, 0.0], [0.0, 1_000.0, 0.0], 20.0, 200.0),
        make_cv("c", [6.4e6, 30e3, 0.0], [0.0, 1_000.0, 0.0], 20.0, 200.0),  # b's twin
    ]
    rng = np.random.default_rng(3)
    k = 400
    t = T0 + rng.integers(-10, 220, k) * S
    x = np.array([6.4e6, 0.0, 0.0]) + rng.normal(size=(k, 3)) * [30e3, 150e3, 30e3]
    x[::7] = np.nan  # events without a state
    got = which_missiles(x, t, truths)
    want = [
        which_missile(None if np.isnan(xi[0]) else xi, int(ti), truths)
        for xi, ti in zip(x, t, strict=True)
    ]
    assert got == want
    assert {"a", "b", None} <= set(got) and "c" not in got  # ties go to the first
    assert which_missiles(np.zeros((0, 3)), np.zeros(0, np.int64), truths) == []
