"""Whether the fusion room runs its compiled (numba) kernels or its NumPy reference.

The hub fuses a handful of tracks per cycle in a Monte Carlo trial (about 9 national and
3 system tracks of an SRBM salvo) and a thousand in the soak; at the small end NumPy's
per-call overhead (microseconds per call, tens of calls per fused row) is most of the
cost. The kernels in ``kernels_align.py`` (propagation of state and covariance) and
``kernels_ci.py`` (covariance intersection, the gating distance) are the same equations
written as loops over rows and compiled with :func:`trilink.tracking.jit.njit`; the NumPy
functions in ``align``, ``intersection``, ``pair`` and ``gating`` stay as the reference
(tests compare the two, and benchmarks/bench_fusion.py times both in one run).

The kernels run when numba is available and ``TRILINK_NUMBA`` is not ``"0"`` (the same
switch as the tracker's); :func:`numpy_reference` turns them off for a block of code.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from trilink.tracking import jit

_enabled = [jit.ENABLED]


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
