"""Whether the compiled (numba) kernels are used, and the decorator that compiles them.

The tracker's hot loops — RK4 flights of sigma points to the ground, the per-scan EKF/IMM
time and measurement updates, the gating distances — run on arrays of a few to a few
hundred rows, where NumPy's per-call overhead (microseconds) dwarfs the arithmetic. The
kernels in ``kernels_*.py`` are the same equations written as loops over rows and
compiled by numba; the NumPy functions in ``dynamics``, ``filters``, ``association``,
``imm`` and ``prediction`` stay as the reference implementation (the tests compare the
two to ~1e-9 relative).

``ENABLED`` is True when numba imports and the environment variable ``TRILINK_NUMBA``
is not ``"0"``; otherwise every public function runs its NumPy reference. Kernels are
compiled on first use and cached on disk next to their source (``cache=True``), so only
the first process after a change pays the compile time (measured in docs/tracking.md).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

F = TypeVar("F", bound=Callable[..., Any])

_numba: Any
try:  # numba is optional: without it, the NumPy reference path runs (slower, same results)
    import numba as _numba
except ImportError:  # pragma: no cover - exercised only where numba is absent
    _numba = None

ENABLED: bool = _numba is not None and os.environ.get("TRILINK_NUMBA", "1") != "0"

# numba keys each cached function on a hash of its own source file only. A kernel inlines
# helpers from the other kernel files and compiles in constants from dynamics.py and
# geo/wgs84.py, so a change there would leave it stale: every kernel is keyed instead on
# one digest of all of those files (key_cache_on; the fusion room does the same).
_HERE = Path(__file__).resolve().parent
_KEYED = sorted(_HERE.glob("kernels_*.py"))
_SOURCES = [*_KEYED, _HERE / "jit.py", _HERE / "dynamics.py", _HERE.parent / "geo" / "wgs84.py"]


def digest(sources: Iterable[Path]) -> bytes:
    """SHA-256 of the sources' bytes, in the order given."""
    h = hashlib.sha256()
    for path in sources:
        h.update(Path(path).read_bytes())
    return h.digest()


def key_cache_on(kernel_files: Iterable[Path], sources: Iterable[Path], label: str) -> bytes:
    """Stamp the disk cache of every numba function defined in ``kernel_files`` with one
    digest of ``sources`` (which should include the kernel files themselves), instead of
    numba's stamp of the function's own file; returns the stamp.

    Done by putting locators first in numba's list (numba.core.caching's locators, the
    mechanism numba uses to find a cache; they answer only for these files and leave
    every other file to the locators after them). Call it before any of these kernels
    compiles. If that internal API moves, numba's own per-file keys remain."""
    stamp = digest(sources)
    if _numba is None:  # pragma: no cover
        return stamp
    try:
        from numba.core import caching
    except ImportError:  # pragma: no cover
        return stamp
    files = {str(Path(p).resolve()) for p in kernel_files}

    class _Stamp:
        """Locator mixin: one digest as the stamp of every kernel in ``files``."""

        def get_source_stamp(self) -> bytes:
            return stamp

        @classmethod
        def from_function(cls, py_func: Any, py_file: str) -> Any:
            if str(Path(py_file).resolve()) not in files:
                return None
            return super().from_function(py_func, py_file)  # type: ignore[misc]

    def numba_name(name: str) -> Any:  # public from numba 0.62 on, "_"-prefixed before
        return getattr(caching, name, None) or getattr(caching, "_" + name)

    try:
        bases = [
            numba_name(n)
            for n in ("UserProvidedCacheLocator", "InTreeCacheLocator", "UserWideCacheLocator")
        ]
        numba_name("CacheImpl")._locator_classes[:0] = [
            type(f"{label}{base.__name__}", (_Stamp, base), {}) for base in bases
        ]
    except AttributeError:  # pragma: no cover - a numba without this API
        pass
    return stamp


_STAMP = key_cache_on(_KEYED, _SOURCES, "Kernel")


def njit(fn: F) -> F:
    """Compile ``fn`` with numba (nopython, on-disk cache, NumPy's float error model so
    that 1/0 gives inf as in the reference); without numba, return it unchanged."""
    if _numba is None:  # pragma: no cover
        return fn
    compiled: F = _numba.njit(cache=True, error_model="numpy", nogil=True)(fn)
    return compiled


def njit_inner(fn: F) -> F:
    """:func:`njit` for helpers called only from other kernels: no CPython or C-callable
    wrapper is generated for them (less to compile; they cannot be called from Python)."""
    if _numba is None:  # pragma: no cover
        return fn
    compiled: F = _numba.njit(
        cache=True, error_model="numpy", nogil=True, no_cpython_wrapper=True, no_cfunc_wrapper=True
    )(fn)
    return compiled


def arg(a: Any) -> Any:
    """``a`` as a C-contiguous, writeable float64 array, so every call of a kernel has one
    signature (a read-only or strided input would compile, and cache, another)."""
    if (
        type(a) is np.ndarray
        and a.dtype == np.float64
        and a.flags.c_contiguous
        and a.flags.writeable
    ):
        return a  # the common case, without np.require's overhead (it was 15 % of a scan)
    return np.require(a, dtype=np.float64, requirements=("C", "W"))


def use_kernels() -> bool:
    """True when the compiled kernels are to be used (see ``ENABLED``)."""
    return ENABLED


_warmed: set[str] = set()


def warm_up(motion: str = "imm") -> float:
    """Compile (first run on a machine) or load from the disk cache (afterwards) the
    kernels a tracker with this ``motion`` uses ("imm" includes ``predict_points``), so
    that its first scan does not pay for it; idempotent per motion. Returns the seconds
    it took (0 when already done or when the kernels are off).
    :class:`trilink.tracking.NationalTracker` calls it when constructed."""
    if motion in _warmed or not ENABLED:
        return 0.0
    import time

    from trilink.tracking import kernels_filters as kf
    from trilink.tracking import kernels_prediction as kp
    from trilink.tracking import kernels_tracks as kt

    t0 = time.perf_counter()
    x = np.zeros((1, 2, 8))
    x[:, :, 0] = 6.4e6
    x[:, :, 3] = 100.0
    P = np.broadcast_to(np.eye(8), (1, 2, 8, 8)).copy()
    mu = np.full((1, 2), 0.5)
    one = np.ones(1)
    s, rot = np.zeros(3), np.eye(3)
    z, R = np.array([[1e5, 0.1, 0.1]]), np.eye(3)[None]
    # both motions: measurement update, gating, output, track management
    kf.imm_update_kernel(x, P, mu, z, R, s, rot, True, 1e-5)
    kf.distances_kernel(x[0], P[0], z, R, s, rot, True)
    kf.combine_kernel(x, P, mu)
    kt.candidates_kernel(x, P, mu, one, x[0, :1, 0:3].copy(), one)
    kt.duplicate_pairs_kernel(x[0], P[0], 16.0)
    kt.scan_candidates_kernel(x, P, mu, one, z, R, s, rot)
    kt.stale_kernel(x, P, mu, np.zeros(1, np.int64), np.zeros(1, np.bool_), 0, 1.0, 1.0, 1.0, 0.0)
    kt.phase_kernel(np.ascontiguousarray(x[:, 0]), one)
    kt.duplicates_kernel(x, P, mu, np.zeros(1, np.int64), np.ones(1, np.int64), 16.0)
    i0, f1 = np.zeros(1, np.int64), np.zeros(1, np.bool_)
    kt.update_count_kernel(x.copy(), P.copy(), mu.copy(), one.copy(), i0.copy(), i0.copy(),
                           one.copy(), np.zeros((1, 1), np.bool_), i0.copy(), f1.copy(), i0, i0,
                           i0, i0, np.ones((1, 1)), z, R, s, rot, True, 0, 0, 3, 4, 3e4,
                           16.0, 1e-5)  # fmt: skip
    if motion == "cv":
        kf.cv_predict_kernel(x[0], P[0], np.ones(2), 1.0)
    else:
        kf.imm_predict_kernel(x, P, mu, one, 1e5, 60.0, 1e-4, 25.0, 36.0, 1e-12, 0.2, 1e-4, 2.0)
        kt.predict_gate_kernel(x.copy(), P.copy(), mu.copy(), np.zeros(1, np.int64), 0, z, R,
                               s, rot, True, 1e5, 60.0, 1e-4, 25.0, 36.0, 1e-12, 0.2, 1e-4,
                               2.0)  # fmt: skip
        kt.snapshot_kernel(x, P, mu, np.zeros(1, np.int64), 0, 1e5, 60.0, 1e-4, 25.0, 36.0,
                           1e-12, 0.2, 1e-4, 2.0)  # fmt: skip
        x8 = np.zeros((1, 8))
        x8[0, 0], x8[0, 3] = 6.5e6, 1_000.0
        kp.predict_kernel(x8, np.eye(8)[None], np.zeros(1, np.int64), np.zeros(1, np.bool_),
                          np.full(1, np.nan), 2e-4, 2e-4, 0.06, 8e4, 1.0, 7_200.0,
                          0.15)  # fmt: skip
    _warmed.add(motion)
    return time.perf_counter() - t0
