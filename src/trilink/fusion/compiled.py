"""Whether the fusion room runs its compiled (numba) kernels or its NumPy reference.

The hub fuses a handful of tracks per cycle in a Monte Carlo trial (about 9 national and
3 system tracks of an SRBM salvo) and a thousand in the soak; at the small end NumPy's
per-call overhead (microseconds per call, tens of calls per fused row) is most of the
cost. The kernels in ``kernels_align.py`` (propagation of state and covariance),
``kernels_ci.py`` and ``kernels_pair.py`` (covariance intersection, on the small linear
algebra of ``kernels_linalg.py``) and ``kernels_gating.py`` (gating distances) are the
same equations written as loops over rows and compiled with
:func:`trilink.tracking.jit.njit`; the NumPy functions in ``align``, ``intersection``,
``pair`` and ``gating`` stay as the reference (tests compare the two, and
benchmarks/bench_fusion.py times both in one run).

The kernels run when numba is available and ``TRILINK_NUMBA`` is not ``"0"`` (the same
switch as the tracker's); :func:`numpy_reference` turns them off for a block of code.
They are compiled on first use and cached on disk next to their source: a cold compile
costs ~30 CPU-s, a load from the cache ~0.3 CPU-s. :func:`warm_up` does either up front;
:class:`trilink.fusion.SystemTrackTable` calls it when constructed, so a hub never
stalls in its first fusion cycle.

The kernel files take their decorators, :func:`njit` and :func:`njit_inner`, from here:
importing this module first keys the disk cache of every fusion kernel on one digest of
all the kernel files (:func:`trilink.tracking.jit.key_cache_on`).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from trilink.tracking import jit
from trilink.tracking.jit import njit, njit_inner

__all__ = ["njit", "njit_inner", "numpy_reference", "use_kernels", "warm_up"]

_enabled = [jit.ENABLED]

# numba keys each cached function on a stamp of its own source file only. The kernels of
# kernels_ci.py, kernels_pair.py and kernels_gating.py compile in the helpers of
# kernels_linalg.py (and kernels_ci.py those of kernels_pair.py), so a change there would
# leave them stale in the cache. Every fusion kernel is keyed instead on one digest of
# all the kernel files and of the decorators' module (trilink.tracking.jit.key_cache_on,
# as the tracker's kernels are).
_HERE = Path(__file__).resolve().parent
_KERNEL_FILES = sorted(_HERE.glob("kernels_*.py"))
_SOURCES = [*_KERNEL_FILES, Path(jit.__file__).resolve()]
_STAMP = jit.key_cache_on(_KERNEL_FILES, _SOURCES, "Fusion")


def use_kernels() -> bool:
    """True when the fusion room's public functions dispatch to the compiled kernels."""
    return _enabled[0]


@contextmanager
def numpy_reference() -> Iterator[None]:
    """Run the NumPy reference implementation inside the block (for tests, benchmarks)."""
    before = _enabled[0]
    _enabled[0] = False
    try:
        yield
    finally:
        _enabled[0] = before


_warmed = [False]


def warm_up() -> float:
    """Compile (first run after a change) or load from the disk cache (afterwards) every
    fusion kernel, with the argument types the table passes; idempotent. Returns the
    seconds it took (0 when already done or when the kernels are off)."""
    if _warmed[0] or not use_kernels():
        return 0.0
    from trilink.fusion.kernels_align import propagate_kernel
    from trilink.fusion.kernels_ci import fuse_groups_kernel
    from trilink.fusion.kernels_gating import disputed_kernel, distance_kernel
    from trilink.geo.wgs84 import GM, J2, OMEGA, A

    t0 = time.perf_counter()
    x = np.zeros((2, 6))
    x[:, 0], x[:, 4] = 6.5e6, 7.0e3
    P = np.broadcast_to(np.eye(6), (2, 6, 6)).copy()
    one = np.ones(2)
    idx = np.array([[0, 1]], np.int64)
    propagate_kernel(x, P, one, one, one, 1, GM, J2, A, OMEGA)
    distance_kernel(x, P, x, P)
    disputed_kernel(idx, x, P, 1.0)
    fuse_groups_kernel(
        x, P, np.zeros(2, np.int64), idx, np.ones((1, 2), bool), True, False, 30, 1e-12
    )
    _warmed[0] = True
    return time.perf_counter() - t0
