"""The fused estimate of each system track from its contributors (step 6 of the cycle).

:class:`~trilink.fusion.table.SystemTrackTable` keeps, per system track, the national
rows bound to it as an (M, K) layout ``idx`` of national rows, -1 padded
(``NationalStore.groups``). :class:`GroupFusion` fuses each row of that layout:

* :meth:`GroupFusion.fuse` - the cycle's estimate: covariance intersection (or the
  configured method) of each system track's contributors, less those held out while
  their pairing is disputed, with the phase of the most precise contributor (the
  best-placed sensor's call) and the newest report time; a track without contributors
  keeps its coasted state;
* :meth:`GroupFusion.reference` - the cheap estimate association gates against: fast CI
  of the contributors, or the coast.

With the compiled kernels on (:mod:`trilink.fusion.compiled`) one pass of
``kernels_ci.fuse_groups_kernel`` gathers, fuses and picks phase and newest report per
row; otherwise the NumPy functions of :mod:`trilink.fusion.intersection` do. The layout
as the kernels take it is made once per layout and remembered: most cycles keep the
previous cycle's bindings.

Shapes: aligned national states xa (N, 6), Pa (N, 6, 6) (ECEF, m and m/s); coasted system
states xs (M, 6), Ps (M, 6, 6), NaN where the track is fused afresh.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
from numpy.typing import NDArray

from trilink.fusion import compiled
from trilink.fusion.intersection import covariance_intersection, fuse
from trilink.fusion.picture import FusionConfig
from trilink.fusion.table_state import NationalStore, SystemStore
from trilink.tracking.jit import arg

Array = NDArray[np.float64]


class FusedRows(NamedTuple):
    """The fused columns of one cycle, one row per system track."""

    x: NDArray[np.float64]
    P: NDArray[np.float64]
    has: NDArray[np.bool_]  # fused from at least one national track (else coasted)
    phase: NDArray[np.object_]
    last_report_ns: NDArray[np.int64]


def fuse_groups(
    xa: Array,
    Pa: Array,
    t_ns: NDArray[np.int64],
    idx: NDArray[np.int64],
    mask: NDArray[np.bool_],
    criterion: str,
    omega: str,
) -> tuple[Array, Array, NDArray[np.int64], NDArray[np.int64], NDArray[np.bool_]]:
    """CI of each system row's national rows, compiled (kernels_ci.fuse_groups_kernel).

    ``idx`` and ``mask`` must be writable, contiguous int64 and bool arrays (numba compiles,
    and caches, one specialisation per array type; the kernel only reads them).
    """
    from trilink.fusion.kernels_ci import fuse_groups_kernel

    out = fuse_groups_kernel(
        arg(xa), arg(Pa), t_ns, idx, mask, criterion == "trace", omega == "fast", 30, 1e-12,
    )  # fmt: skip
    xf, Pf, _, best, newest, good = out
    if not good.all():
        raise np.linalg.LinAlgError("fusion: a national covariance is not positive definite")
    return xf, Pf, best, newest, good


def member_flags(per_row: NDArray[np.bool_], idx: NDArray[np.intp]) -> NDArray[np.bool_]:
    """Per-national-row flags gathered into the (M, K) layout; padding (-1) is False."""
    return np.append(per_row, False)[idx]


def kernel_times(t_ns: NDArray[np.int64]) -> NDArray[np.int64]:
    """The national report times as a kernel argument (contiguous, writable int64)."""
    if t_ns.dtype == np.int64 and t_ns.flags.c_contiguous and t_ns.flags.writeable:
        return t_ns
    return np.array(t_ns, np.int64)


class GroupFusion:
    """Fusion of each system track's contributors, with the kernels' copy of the layout
    remembered from one cycle to the next."""

    def __init__(self) -> None:
        # The kernels' copy of the group layout, for the memoised layout it was made from.
        self._layout_memo: tuple[NDArray[np.intp], NDArray[np.int64], NDArray[np.bool_], Any] | None
        self._layout_memo = None

    def layout(
        self, idx: NDArray[np.intp]
    ) -> tuple[NDArray[np.int64], NDArray[np.bool_], NDArray[np.intp]]:
        """``idx`` as the kernels take it (writable int64), its mask of present rows and
        the system rows without any (coasting), made once per layout (most cycles keep
        the previous cycle's); all three are only read."""
        memo = self._layout_memo
        if memo is not None and memo[0] is idx:
            return memo[1], memo[2], memo[3]
        idx64 = np.array(idx, np.int64)
        mask = idx64 >= 0
        coast = np.flatnonzero(~np.any(mask, axis=1))
        self._layout_memo = (idx, idx64, mask, coast)
        return idx64, mask, coast

    def reference(
        self, xa: Array, Pa: Array, xs: Array, Ps: Array, idx: NDArray[np.intp], nat: NationalStore
    ) -> tuple[Array, Array]:
        """Cheap fused estimate per system track for gating: fast CI, or the coast."""
        if compiled.use_kernels() and xa.shape[-1] == 6:
            idx64, mask64, _ = self.layout(idx)
            t_ns = kernel_times(nat.t_ns)
            xf, Pf, best, _, _ = fuse_groups(xa, Pa, t_ns, idx64, mask64, "trace", "fast")
            found = best >= 0
            return np.where(found[:, None], xf, xs), np.where(found[:, None, None], Pf, Ps)
        mask = idx >= 0
        has = mask.any(axis=1)
        xr, Pr = xs.copy(), Ps.copy()
        if np.any(has):
            sel = np.where(mask[has], idx[has], 0)
            xf, Pf, _ = covariance_intersection(xa[sel], Pa[sel], mask[has], omega="fast")
            xr[has], Pr[has] = xf, Pf
        return xr, Pr

    def fuse(
        self,
        xa: Array,
        Pa: Array,
        xs: Array,
        Ps: Array,
        idx: NDArray[np.intp],
        suspect: NDArray[np.bool_],
        nat: NationalStore,
        system: SystemStore,
        cfg: FusionConfig,
    ) -> FusedRows:
        """Fused x, P, has-contributor mask, phase and newest report time per system row
        (national rows flagged ``suspect`` left out)."""
        if cfg.method == "ci" and compiled.use_kernels() and xa.shape[-1] == 6:
            idx64, mask, _ = self.layout(idx)
            if suspect.any():
                mask = mask & ~member_flags(suspect, idx)  # a new array: the layout's stays
            # One compiled pass gathers, fuses and picks phase and newest report per row.
            xf, Pf, best, newest, _ = fuse_groups(
                xa, Pa, kernel_times(nat.t_ns), idx64, mask, cfg.criterion, cfg.omega
            )
            has = best >= 0
            newest = np.maximum(system.last_report_ns, newest)
            if has.all():
                # Every track fused (the common cycle): the kernel's rows as they are.
                return FusedRows(xf, Pf, has, nat.phase[best], newest)
            phase = system.phase.copy()
            phase[has] = nat.phase[best[has]]
            return FusedRows(
                np.where(has[:, None], xf, xs),
                np.where(has[:, None, None], Pf, Ps),
                has,
                phase,
                newest,
            )
        mask = idx >= 0
        if np.any(suspect):
            mask &= ~member_flags(suspect, idx)
        has = np.asarray(mask.any(axis=1), bool)
        xf, Pf = xs.copy(), Ps.copy()
        phase = system.phase.copy()
        last = system.last_report_ns.copy()
        if np.any(has):
            sel = np.where(mask[has], idx[has], 0)
            m = mask[has]
            xf[has], Pf[has] = fuse(xa[sel], Pa[sel], m, cfg.method, cfg.criterion, cfg.omega)
            # Phase of the most precise contributor: the best-placed sensor's call.
            tr = np.where(m, np.trace(Pa[sel][..., :3, :3], axis1=-2, axis2=-1), np.inf)
            best = sel[np.arange(sel.shape[0]), np.argmin(tr, axis=1)]
            phase[has] = nat.phase[best]
            newest = np.where(m, nat.t_ns[sel], np.iinfo(np.int64).min).max(axis=1)
            last[has] = np.maximum(last[has], newest)
        return FusedRows(xf, Pf, has, phase, last)
