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

import os
from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np

F = TypeVar("F", bound=Callable[..., Any])

_numba: Any
try:  # numba is optional: without it, the NumPy reference path runs (slower, same results)
    import numba as _numba
except ImportError:  # pragma: no cover - exercised only where numba is absent
    _numba = None

ENABLED: bool = _numba is not None and os.environ.get("TRILINK_NUMBA", "1") != "0"


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
    return np.require(a, dtype=np.float64, requirements=("C", "W"))


def use_kernels() -> bool:
    """True when the compiled kernels are to be used (see ``ENABLED``)."""
    return ENABLED
