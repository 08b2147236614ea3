"""The hub's fusion room: national tracks in, one numbered system picture out.

Pure numerics plus one stateful table; no I/O, no clocks. States are ECEF
``[x, y, z, vx, vy, vz]`` rows (..., 6) in metres and metres per second, covariances
(..., 6, 6), times integer nanoseconds since the Unix epoch (UTC).

- :mod:`~trilink.fusion.batch` - :class:`NationalTrackBatch`, the input;
- :mod:`~trilink.fusion.align` - batched ballistic propagation of state and covariance;
- :mod:`~trilink.fusion.gating` - track-to-track gating and assignment;
- :mod:`~trilink.fusion.intersection` - CI, fast CI, ICI and the naive reference;
- :mod:`~trilink.fusion.table` - :class:`SystemTrackTable`, numbering and the cycle;
- :mod:`~trilink.fusion.synthetic` - synthetic ballistic salvos for tests and benchmarks.

See docs/fusion.md for the design and measured figures.
"""

from trilink.fusion.align import (
    DEFAULT_PROCESS_NOISE,
    ProcessNoise,
    align,
    propagate,
    propagate_state,
)
from trilink.fusion.batch import PHASES, NationalTrackBatch
from trilink.fusion.gating import assign, difference_distance, gated_pairs
from trilink.fusion.intersection import (
    ci_weights,
    covariance_intersection,
    fast_ci_weights,
    fuse,
    independent_fusion,
    inverse_covariance_intersection,
)
from trilink.fusion.picture import (
    FusionConfig,
    FusionEvent,
    SystemPicture,
    SystemTrackEstimate,
)
from trilink.fusion.table import SystemTrackTable

__all__ = [
    "DEFAULT_PROCESS_NOISE",
    "PHASES",
    "FusionConfig",
    "FusionEvent",
    "NationalTrackBatch",
    "ProcessNoise",
    "SystemPicture",
    "SystemTrackEstimate",
    "SystemTrackTable",
    "align",
    "assign",
    "ci_weights",
    "covariance_intersection",
    "difference_distance",
    "fast_ci_weights",
    "fuse",
    "gated_pairs",
    "independent_fusion",
    "inverse_covariance_intersection",
    "propagate",
    "propagate_state",
]
