"""Track-maintenance tests of the system track table, as pure functions over its columns.

``idx`` is the (M, K) layout of national rows per system track (-1 padded), ``xa``/``Pa``
the national states and covariances aligned to the fusion time (N, 6)/(N, 6, 6).

* :func:`disputed_pairings` - system tracks whose contributors clearly disagree: some
  pair's difference exceeds the decorrelation gate (the same ``P_a + P_b`` distance as
  association, at a far stricter quantile).
* :func:`least_consistent` - for each disputed track, the contributor farthest from a
  reference state (the track's last undisputed estimate, predicted to now): the one to
  hold out, and after ``decorrelate_k`` reports to split off.
* :func:`merge_candidates` - pairs of system tracks fed by no common nation that gate
  together: candidate duplicates of one object.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from trilink.fusion import compiled
from trilink.fusion.gating import difference_distance, self_gated_pairs
from trilink.tracking.jit import arg

Array = NDArray[np.float64]


def disputed_pairings(
    idx: NDArray[np.intp], xa: Array, Pa: Array, gate: float
) -> NDArray[np.bool_]:
    """(M,) True where two contributors of a system track differ by d^2 > ``gate``."""
    disputed = np.zeros(len(idx), bool)
    k = idx.shape[1]
    if k < 2:
        return disputed
    if compiled.use_kernels() and xa.shape[-1] == 6:
        from trilink.fusion.kernels_gating import disputed_kernel

        return disputed_kernel(np.array(idx, np.int64), arg(xa), arg(Pa), float(gate))
    # Every pair of slots of every row at once: one distance call for the whole table.
    cj, ck = np.triu_indices(k, 1)
    a, b = idx[:, cj].ravel(), idx[:, ck].ravel()
    row = np.repeat(np.arange(len(idx)), cj.size)
    both = (a >= 0) & (b >= 0)
    a, b, row = a[both], b[both], row[both]
    d2, _ = difference_distance(xa[a], Pa[a], xa[b], Pa[b])
    disputed[row[d2 > gate]] = True
    return disputed


def least_consistent(
    idx: NDArray[np.intp], xa: Array, Pa: Array, x_ref: Array, P_ref: Array
) -> NDArray[np.intp]:
    """National row (M,) of each track's contributor farthest from its reference state."""
    present = idx >= 0
    rows = np.where(present, idx, 0)
    m, k = idx.shape
    d2, _ = difference_distance(
        xa[rows].reshape(m * k, 6),
        Pa[rows].reshape(m * k, 6, 6),
        np.repeat(x_ref, k, axis=0),
        np.repeat(P_ref, k, axis=0),
    )
    d2 = np.where(present, d2.reshape(m, k), -np.inf)
    return idx[np.arange(m), np.argmax(d2, axis=1)]


def nation_bits(idx: NDArray[np.intp], source: NDArray[np.object_]) -> NDArray[np.int64]:
    """(M,) bit set of the nations feeding each system track (bit per distinct source)."""
    names = source.tolist()
    code = {name: i for i, name in enumerate(sorted(set(map(str, names))))}
    bit = np.fromiter((1 << code[str(n)] for n in names), np.int64, count=len(names))
    bits = np.append(bit, 0)[idx]
    return np.bitwise_or.reduce(bits, axis=1)


_FEW = 64  # candidates checked pair by pair in Python before the gating search


def _any_disjoint(bits: list[int]) -> bool:
    """Whether two of the nation bit sets share no nation (a coasting track's 0 shares
    none with any)."""
    return any(a & b == 0 for i, a in enumerate(bits) for b in bits[i + 1 :])


def merge_candidates(
    xf: Array, Pf: Array, nations: NDArray[np.int64], gate: float
) -> tuple[NDArray[np.intp], NDArray[np.intp], Array]:
    """System-track row pairs (a < b) fed by disjoint nations that pass ``gate``, with d^2."""
    # On the few tracks of a cycle, a list pass costs less than NumPy's reductions.
    bits = nations.tolist()
    full = 0
    for b in bits:
        full |= b
    # A track fed by every nation can only meet a track fed by none (coasting), so when
    # nothing coasts those tracks need not be searched at all.
    if all(bits):
        cand = np.array([i for i, b in enumerate(bits) if b != full], np.intp)
    else:
        cand = np.arange(len(xf))
    if cand.size < 2 or (cand.size <= _FEW and not _any_disjoint([bits[i] for i in cand])):
        # No two candidates fed by disjoint nations (e.g. all share KOR): whatever gates,
        # the filter below keeps nothing, so the gating search is skipped.
        return np.empty(0, np.intp), np.empty(0, np.intp), np.empty(0)
    ia, jb, d2 = self_gated_pairs(xf[cand], Pf[cand], gate)
    ia, jb = cand[ia], cand[jb]
    disjoint = (nations[ia] & nations[jb]) == 0
    return ia[disjoint], jb[disjoint], d2[disjoint]
