"""Truth and estimate factories for the evaluate tests (fixtures return functions)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from scipy.integrate import solve_ivp

from trilink.evaluate import TrackEstimates
from trilink.physics.gravity import ecef_acceleration
from trilink.physics.truth import Trajectory

S = 1_000_000_000  # ns per second
T0 = 1_700_000_000 * S  # an arbitrary epoch


def make_cv(missile_id: str, r0, v, t_start_s: float, t_end_s: float, dt_s: float = 1.0):
    """Constant-velocity truth (exact under the Hermite interpolation of Trajectory)."""
    t_s = np.arange(t_start_s, t_end_s + 1e-9, dt_s)
    r = np.asarray(r0, float) + np.outer(t_s - t_start_s, v)
    n = t_s.size
    return Trajectory(
        missile_id,
        "TEST",
        (T0 + np.round(t_s * S)).astype(np.int64),
        r,
        np.tile(np.asarray(v, float), (n, 1)),
        np.zeros(n, bool),
        np.ones(n),
        burnout_t_ns=int(T0 + t_start_s * S),
    )


def make_ballistic(missile_id: str, r0, v0, duration_s: float, dt_s: float = 1.0):
    """Ballistic truth by an independent tight-tolerance integrator (scipy DOP853)."""

    def f(_t, y):
        return np.concatenate([y[3:], ecef_acceleration(y[:3], y[3:])])

    t_s = np.arange(0.0, duration_s + 1e-9, dt_s)
    sol = solve_ivp(
        f,
        (0.0, t_s[-1]),
        np.concatenate([r0, v0]),
        method="DOP853",
        t_eval=t_s,
        rtol=1e-12,
        atol=1e-6,
    )
    y = sol.y.T
    n = t_s.size
    return Trajectory(
        missile_id,
        "TEST",
        (T0 + np.round(t_s * S)).astype(np.int64),
        y[:, :3],
        y[:, 3:],
        np.zeros(n, bool),
        np.ones(n),
        burnout_t_ns=T0,
    )


def estimates_on(truth: Trajectory, track_id, t_s, offset=(0.0, 0.0, 0.0), confirmed=True):
    """Estimates of one track that sit at ``offset`` metres from a truth at times t_s."""
    t = (T0 + np.round(np.asarray(t_s, float) * S)).astype(np.int64)
    r, v, _ = truth.state_at(t)
    x = np.concatenate([r + np.asarray(offset, float), v], axis=-1)
    n = t.size
    return TrackEstimates.from_arrays(
        t, np.full(n, track_id), x, np.tile(np.eye(6), (n, 1, 1)), np.full(n, confirmed)
    )


def concat(*parts: TrackEstimates) -> TrackEstimates:
    return TrackEstimates.from_arrays(
        np.concatenate([p.t_ns for p in parts]),
        np.concatenate([p.track_id for p in parts]),
        np.concatenate([p.x for p in parts]),
        np.concatenate([p.P for p in parts]),
        np.concatenate([p.is_confirmed for p in parts]),
    )


@pytest.fixture
def cv() -> Callable[..., Trajectory]:
    return make_cv


@pytest.fixture
def ballistic() -> Callable[..., Trajectory]:
    return make_ballistic


@pytest.fixture
def on() -> Callable[..., TrackEstimates]:
    return estimates_on


@pytest.fixture
def cat() -> Callable[..., TrackEstimates]:
    return concat


@pytest.fixture
def t0() -> int:
    return T0
