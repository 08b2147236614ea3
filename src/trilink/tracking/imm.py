"""Interacting multiple model (IMM) estimator over two models: ballistic (0) and boost (1).

Batched over tracks: model-conditioned states ``x`` (N, 2, 8), covariances ``P``
(N, 2, 8, 8), model probabilities ``mu`` (N, 2). Both models share the state of
:mod:`trilink.tracking.dynamics`; the ballistic model keeps its thrust acceleration at
zero, so mixing a boost estimate into it carries the spread of the two means into the
covariance (the moment-matching step) instead of dropping it. This is what keeps the
covariance honest through burnout: until the data have decided, the estimate is the
mixture of "still thrusting" and "coasting", with the covariance of that mixture.

Reference: Blom & Bar-Shalom, "The interacting multiple model algorithm for systems with
Markovian switching coefficients", IEEE TAC 33(8), 1988; Bar-Shalom, Li & Kirubarajan
(2001), sec. 11.6.6 (the IMM cycle, eqs. 11.6.6-1 to -20).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from trilink.tracking.config import TrackerConfig
from trilink.tracking.dynamics import NX
from trilink.tracking.filters import (
    Measurement,
    ModelRows,
    innovation,
    predict,
    update_from_innovation,
)

Array = NDArray[np.float64]

BALLISTIC, BOOST = 0, 1
N_MODELS = 2


def transition_matrix(dt_s: Array | float, cfg: TrackerConfig) -> Array:
    """Markov switching probabilities (..., 2, 2) over ``dt_s`` (scalar or (N,)):
    ``Pi[i, j] = P(model j at t + dt | model i at t)``."""
    dt = np.abs(np.asarray(dt_s, dtype=float))
    p_bal_to_boost = 1.0 - np.exp(-dt / cfg.ballistic_mean_s)
    p_boost_to_bal = 1.0 - np.exp(-dt / cfg.boost_mean_s)
    row0 = np.stack([1.0 - p_bal_to_boost, p_bal_to_boost], -1)
    row1 = np.stack([p_boost_to_bal, 1.0 - p_boost_to_bal], -1)
    return np.stack([row0, row1], -2)


def model_rows(n_tracks: int, cfg: TrackerConfig) -> ModelRows:
    """The per-row parameters of N tracks x 2 models, flattened in (track, model) order."""
    thrust = np.tile([0.0, 1.0], n_tracks)
    return ModelRows(
        thrust_on=thrust,
        drag_on=1.0 - thrust,
        q_accel=np.tile([cfg.q_accel_ballistic, cfg.q_accel_boost], n_tracks),
        q_thrust=np.tile([0.0, cfg.q_thrust_boost], n_tracks),
        q_kappa=np.full(2 * n_tracks, cfg.q_kappa),
        drag_error=cfg.drag_error,
    )


def mix(x: Array, P: Array, mu: Array, trans: Array) -> tuple[Array, Array, Array]:
    """IMM interaction: mixed initial conditions (x0, P0) and predicted probabilities c (N, 2).
    ``trans`` is (2, 2) or per track (N, 2, 2)."""
    trans = np.broadcast_to(trans, (mu.shape[0], N_MODELS, N_MODELS))
    c = np.einsum("ni,nij->nj", mu, trans)  # c_j = sum_i Pi_ij mu_i
    c_safe = np.maximum(c, 1e-300)
    w = mu[:, :, None] * trans / c_safe[:, None, :]  # w[n, i, j] = mu_{i|j}
    x0 = np.einsum("nij,nik->njk", w, x)
    d = x[:, :, None, :] - x0[:, None, :, :]  # (N, i, j, n)
    spread = np.einsum("nij,nijk,nijl->njkl", w, d, d)
    P0 = np.einsum("nij,nikl->njkl", w, P) + spread
    return x0, P0, c


def imm_predict(
    x: Array, P: Array, mu: Array, dt_s: Array | float, cfg: TrackerConfig
) -> tuple[Array, Array, Array]:
    """Mixing then the model-conditioned EKF predictions over ``dt_s`` (scalar or (N,)):
    (x, P, mu_pred)."""
    n = x.shape[0]
    if n == 0:
        return x.copy(), P.copy(), mu.copy()
    x0, P0, c = mix(x, P, mu, transition_matrix(dt_s, cfg))
    dt_rows = np.repeat(np.broadcast_to(np.asarray(dt_s, dtype=float), (n,)), N_MODELS)
    xf, Pf = predict(
        x0.reshape(n * N_MODELS, NX), P0.reshape(n * N_MODELS, NX, NX), dt_rows,
        model_rows(n, cfg), cfg.h_max_s,
    )  # fmt: skip
    return xf.reshape(n, N_MODELS, NX), Pf.reshape(n, N_MODELS, NX, NX), c


def imm_update(
    x: Array, P: Array, mu: Array, z: Array, R: Array, meas: Measurement
) -> tuple[Array, Array, Array, Array]:
    """Model-conditioned EKF updates with one measurement per track (z (N, m), R (N, m, m)),
    then the model probabilities from the likelihoods: (x, P, mu, log-likelihood (N,))."""
    n = x.shape[0]
    xr = x.reshape(n * N_MODELS, NX)
    Pr = P.reshape(n * N_MODELS, NX, NX)
    zr = np.repeat(z, N_MODELS, axis=0)
    Rr = np.repeat(R, N_MODELS, axis=0)
    nu, S, H = innovation(xr, Pr, zr, Rr, meas)
    xu, Pu, _, loglik = update_from_innovation(xr, Pr, nu, S, H, Rr)
    ll = loglik.reshape(n, N_MODELS)
    ll_max = ll.max(axis=1, keepdims=True)
    post = mu * np.exp(ll - ll_max)
    total = post.sum(axis=1, keepdims=True)
    mu_new = post / total
    # Floor the probabilities so that a model the data have ruled out can come back
    # (a second stage igniting after a coast) within a few scans.
    mu_new = np.clip(mu_new, 1e-5, None)
    mu_new /= mu_new.sum(axis=1, keepdims=True)
    mix_loglik = (ll_max + np.log(total))[:, 0]
    return xu.reshape(n, N_MODELS, NX), Pu.reshape(n, N_MODELS, NX, NX), mu_new, mix_loglik


def combine(x: Array, P: Array, mu: Array) -> tuple[Array, Array]:
    """Moment-matched output estimate (N, n), (N, n, n) of the model mixture."""
    xc = np.einsum("nj,njk->nk", mu, x)
    d = x - xc[:, None, :]
    Pc = np.einsum("nj,njkl->nkl", mu, P) + np.einsum("nj,njk,njl->nkl", mu, d, d)
    return xc, Pc
