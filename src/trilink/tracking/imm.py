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

from functools import lru_cache

import numpy as np
from numpy.typing import NDArray

from trilink.tracking.config import TrackerConfig
from trilink.tracking.dynamics import NX
from trilink.tracking.filters import (
    Measurement,
    ModelRows,
    cv_predict,
    innovation,
    predict_reference,
    update_from_innovation,
)
from trilink.tracking.jit import arg, use_kernels

Array = NDArray[np.float64]

BALLISTIC, BOOST = 0, 1
N_MODELS = 2
MU_FLOOR = 1e-5  # model probabilities never fall below this (see imm_update_reference)


def transition_matrix(dt_s: Array | float, cfg: TrackerConfig) -> Array:
    """Markov switching probabilities (..., 2, 2) over ``dt_s`` (scalar or (N,)):
    ``Pi[i, j] = P(model j at t + dt | model i at t)``."""
    dt = np.abs(np.asarray(dt_s, dtype=float))
    p_bal_to_boost = 1.0 - np.exp(-dt / cfg.ballistic_mean_s)
    p_boost_to_bal = 1.0 - np.exp(-dt / cfg.boost_mean_s)
    row0 = np.stack([1.0 - p_bal_to_boost, p_bal_to_boost], -1)
    row1 = np.stack([p_boost_to_bal, 1.0 - p_boost_to_bal], -1)
    return np.stack([row0, row1], -2)


@lru_cache(maxsize=256)
def model_rows(n_tracks: int, cfg: TrackerConfig) -> ModelRows:
    """The per-row parameters of N tracks x 2 models, flattened in (track, model) order
    (cached: the arrays are shared, and nothing writes to them)."""
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
    (x, P, mu_pred). With ``cfg.motion == "cv"`` the table holds one model (N, 1, n),
    the nearly-constant-velocity one (:func:`.filters.cv_predict`), and mu stays 1.
    The compiled kernels run when :mod:`.jit` allows, else :func:`imm_predict_reference`.
    """
    n = x.shape[0]
    if n == 0:
        return x.copy(), P.copy(), mu.copy()
    dt = np.asarray(dt_s, dtype=float)
    # (the tracker passes a fresh (N,) array: no broadcast, whose read-only view arg()
    # would have to copy)
    dt = arg(dt if dt.shape == (n,) else np.broadcast_to(dt, (n,)))
    if cfg.motion == "cv":
        nm = x.shape[1]
        xf, Pf = cv_predict(
            x.reshape(n * nm, -1), P.reshape(n * nm, *P.shape[-2:]), np.repeat(dt, nm),
            cfg.q_accel_cv,
        )  # fmt: skip
        return xf.reshape(x.shape), Pf.reshape(P.shape), mu.copy()
    if not use_kernels():
        return imm_predict_reference(x, P, mu, dt, cfg)
    from trilink.tracking.kernels_filters import imm_predict_kernel

    # the parameters of model_rows(n, cfg), passed per model
    return imm_predict_kernel(
        arg(x), arg(P), arg(mu), dt, cfg.ballistic_mean_s, cfg.boost_mean_s,
        cfg.q_accel_ballistic, cfg.q_accel_boost, cfg.q_thrust_boost, cfg.q_kappa,
        cfg.drag_error, ModelRows.thrust_var_floor, cfg.h_max_s,
    )  # fmt: skip


def imm_predict_reference(
    x: Array, P: Array, mu: Array, dt_s: Array | float, cfg: TrackerConfig
) -> tuple[Array, Array, Array]:
    """:func:`imm_predict` of the two-model IMM in NumPy (the reference)."""
    n = x.shape[0]
    if n == 0:
        return x.copy(), P.copy(), mu.copy()
    x0, P0, c = mix(x, P, mu, transition_matrix(dt_s, cfg))
    dt_rows = np.repeat(np.broadcast_to(np.asarray(dt_s, dtype=float), (n,)), N_MODELS)
    xf, Pf = predict_reference(
        x0.reshape(n * N_MODELS, NX), P0.reshape(n * N_MODELS, NX, NX), dt_rows,
        model_rows(n, cfg), cfg.h_max_s,
    )  # fmt: skip
    return xf.reshape(n, N_MODELS, NX), Pf.reshape(n, N_MODELS, NX, NX), c


def imm_update(
    x: Array, P: Array, mu: Array, z: Array, R: Array, meas: Measurement
) -> tuple[Array, Array, Array, Array]:
    """Model-conditioned EKF updates with one measurement per track (z (N, m), R (N, m, m)),
    then the model probabilities from the likelihoods: (x, P, mu, log-likelihood (N,)).
    Any number of models (x (N, M, n)); the compiled kernel when :mod:`.jit` allows."""
    if not use_kernels():
        return imm_update_reference(x, P, mu, z, R, meas)
    from trilink.tracking.kernels_filters import imm_update_kernel

    return imm_update_kernel(
        arg(x), arg(P), arg(mu), arg(z),
        arg(R), *meas.frame(), meas.kind == "radar", MU_FLOOR,
    )  # fmt: skip


def imm_update_reference(
    x: Array, P: Array, mu: Array, z: Array, R: Array, meas: Measurement
) -> tuple[Array, Array, Array, Array]:
    """:func:`imm_update` in NumPy (the reference)."""
    n, nm = x.shape[0], x.shape[1]
    xr = x.reshape(n * nm, x.shape[-1])
    Pr = P.reshape(n * nm, *P.shape[-2:])
    zr = np.repeat(z, nm, axis=0)
    Rr = np.repeat(R, nm, axis=0)
    nu, S, H = innovation(xr, Pr, zr, Rr, meas)
    xu, Pu, _, loglik = update_from_innovation(xr, Pr, nu, S, H, Rr)
    ll = loglik.reshape(n, nm)
    ll_max = ll.max(axis=1, keepdims=True)
    post = mu * np.exp(ll - ll_max)
    total = post.sum(axis=1, keepdims=True)
    mu_new = post / total
    # Floor the probabilities so that a model the data have ruled out can come back
    # (a second stage igniting after a coast) within a few scans.
    mu_new = np.clip(mu_new, MU_FLOOR, None)
    mu_new /= mu_new.sum(axis=1, keepdims=True)
    mix_loglik = (ll_max + np.log(total))[:, 0]
    return xu.reshape(x.shape), Pu.reshape(P.shape), mu_new, mix_loglik


def combine(x: Array, P: Array, mu: Array) -> tuple[Array, Array]:
    """Moment-matched output estimate (N, n), (N, n, n) of the model mixture."""
    if not use_kernels():
        return combine_reference(x, P, mu)
    from trilink.tracking.kernels_filters import combine_kernel

    return combine_kernel(arg(x), arg(P), arg(mu))


def combine_reference(x: Array, P: Array, mu: Array) -> tuple[Array, Array]:
    """:func:`combine` in NumPy."""
    xc = np.einsum("nj,njk->nk", mu, x)
    d = x - xc[:, None, :]
    Pc = np.einsum("nj,njkl->nkl", mu, P) + np.einsum("nj,njk,njl->nkl", mu, d, d)
    return xc, Pc


def p_boost(mu: Array) -> Array:
    """Probability of the boost model (N,); zero for a one-model (CV) table."""
    return mu[:, BOOST] if mu.shape[1] > BOOST else np.zeros(mu.shape[0])
