"""Compiled kernels of track management: which tracks may be near a scan's detections,
and which confirmed tracks have become the same object. The NumPy references are
:func:`.association.candidates_reference` and :func:`.association.duplicate_pairs_reference`.
"""

from __future__ import annotations

import math

import numpy as np

from trilink.tracking.jit import njit


@njit
def candidates_kernel(
    x: np.ndarray, P: np.ndarray, mu: np.ndarray, dt: np.ndarray, det_pos: np.ndarray,
    sig_det: np.ndarray,
) -> np.ndarray:  # fmt: skip
    """Flags (N,) of tracks (IMM x (N, M, n), P, mu) that a straight-line extrapolation
    over dt (N,) puts within reach of some detection (positions (D, 3), sigmas (D,)):
    ``6 (sigma_track + sigma_det) + 60 dt^2 + 1 km`` (see the reference)."""
    nt, nm = x.shape[0], x.shape[1]
    out = np.zeros(nt, dtype=np.bool_)
    xc = np.empty(6)
    for t in range(nt):
        xc[:] = 0.0
        for j in range(nm):
            for k in range(6):
                xc[k] += mu[t, j] * x[t, j, k]
        tr_r = tr_v = 0.0  # traces of the mixture's position and velocity covariances
        for j in range(nm):
            for k in range(3):
                dr = x[t, j, k] - xc[k]
                dv = x[t, j, 3 + k] - xc[3 + k]
                tr_r += mu[t, j] * P[t, j, k, k] + mu[t, j] * dr * dr
                tr_v += mu[t, j] * P[t, j, 3 + k, 3 + k] + mu[t, j] * dv * dv
        h = dt[t]
        sig_trk = math.sqrt(tr_r) + math.sqrt(tr_v) * h
        for d in range(det_pos.shape[0]):
            reach = 6.0 * (sig_trk + sig_det[d]) + 60.0 * h * h + 1_000.0
            s = 0.0
            for k in range(3):
                e = xc[k] + xc[3 + k] * h - det_pos[d, k]
                s += e * e
            if math.sqrt(s) <= reach:
                out[t] = True
                break
    return out


@njit
def duplicate_pairs_kernel(xc: np.ndarray, Pc: np.ndarray, gate: float) -> np.ndarray:
    """(C, C) flags of pairs of estimates (xc (C, n >= 6), Pc (C, n, n)) whose 6-D
    states are within squared Mahalanobis distance ``gate`` under ``Pc_i + Pc_j``.

    A pair whose position difference alone exceeds ``gate`` times the trace of the
    summed position covariance is skipped: the 6-D distance is at least the position
    distance, which is at least ``|dr|^2 / trace``, so it cannot be inside."""
    c = xc.shape[0]
    same = np.zeros((c, c), dtype=np.bool_)
    S = np.empty((6, 6))
    L = np.empty((6, 6))
    d = np.empty(6)
    y = np.empty(6)
    for a in range(c):
        for b in range(a + 1, c):
            dr2 = tr = 0.0
            for k in range(3):
                dr2 += (xc[a, k] - xc[b, k]) ** 2
                tr += Pc[a, k, k] + Pc[b, k, k]
            if dr2 > gate * tr:
                continue
            for i in range(6):
                d[i] = xc[a, i] - xc[b, i]
                for j in range(6):
                    S[i, j] = Pc[a, i, j] + Pc[b, i, j]
            ok = True  # Cholesky S = L L^T, then |L^-1 d|^2
            for j in range(6):
                s = S[j, j]
                for k in range(j):
                    s -= L[j, k] * L[j, k]
                if not s > 0.0:
                    ok = False
                    break
                L[j, j] = math.sqrt(s)
                for i in range(j + 1, 6):
                    t = S[i, j]
                    for k in range(j):
                        t -= L[i, k] * L[j, k]
                    L[i, j] = t / L[j, j]
            if not ok:
                continue
            d2 = 0.0
            for i in range(6):
                t = d[i]
                for k in range(i):
                    t -= L[i, k] * y[k]
                y[i] = t / L[i, i]
                d2 += y[i] * y[i]
            if d2 < gate:
                same[a, b] = same[b, a] = True
    return same
