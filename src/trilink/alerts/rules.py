"""Warning rules for one partner: pure functions over a plain description of a missile.

The rule (thresholds in :class:`WarningRules`, defaults quoted):

1. **Launch** - any *confirmed* missile in flight is reported to every partner the policy
   lets see it (level ``"launch"``; severity Minor, "monitor").
2. **Threat** - raised when either
   a. the 95 % impact ellipse (k = 2.4477 sigma, :data:`~trilink.alerts.ellipse.K95`)
      overlaps the partner's land, territorial sea or 200-nm zone, or
   b. the remaining predicted ground track passes over the partner's territory (land
      plus the 12-nm territorial sea): an overflight, as J-Alert treats one.
3. **Far means no threat** - no threat is raised, and a held one is released, only when
   the 3-sigma impact ellipse (98.9 %) lies more than ``far_distance_m`` = 50 km from the
   zone and there is no overflight. Between the two (the 95 % ellipse outside the zone
   but the 3-sigma ellipse within 50 km) an existing threat is *held*: hysteresis, so
   that a prediction jittering along the zone's edge does not flap Alert/Cancel.
4. **Certainty** - "Likely" when the nominal impact point itself is inside the zone or
   the nominal ground track crosses the territory, "Possible" when only the ellipse
   reaches it.
5. **Time to impact** - predicted impact time minus the input's time, in seconds.

Without an impact prediction (boost phase) only the overflight test can raise a threat.
Material changes and the message life cycle (Alert / Update / Cancel) are decided by
:class:`trilink.alerts.state.WarningState` from the :class:`Assessment` made here.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from trilink.alerts.ellipse import K95, ellipse_from_covariance, ellipse_ring
from trilink.alerts.territory import OUTSIDE, PLACE_NAMES, Territory

PHASES = ("boost", "ballistic", "reentry", "unknown")  # as trilink.messages.Phase
STATUSES = ("in_flight", "impacted", "lost")
LEVELS = ("none", "launch", "threat")


@dataclass(frozen=True)
class ImpactPrediction:
    """Predicted impact point with its 1-sigma ground ellipse and time.

    ``orientation_rad`` is the azimuth of the major axis, clockwise from true north;
    ``semi_major_m >= semi_minor_m``. ``t_ns`` is UTC nanoseconds since the epoch.
    """

    lat_rad: float
    lon_rad: float
    t_ns: int
    t_sigma_s: float
    semi_major_m: float
    semi_minor_m: float
    orientation_rad: float

    def __post_init__(self) -> None:
        values = (self.lat_rad, self.lon_rad, self.t_sigma_s, self.semi_major_m, self.semi_minor_m)
        if not all(math.isfinite(v) for v in values):
            raise ValueError(f"impact prediction has non-finite values: {self}")
        if self.semi_minor_m < 0 or self.semi_major_m < self.semi_minor_m:
            raise ValueError("impact ellipse needs semi_major_m >= semi_minor_m >= 0")

    @classmethod
    def from_covariance(
        cls, lat_rad: float, lon_rad: float, t_ns: int, t_sigma_s: float, cov_en_m2: NDArray
    ) -> ImpactPrediction:
        """From the 2x2 east/north covariance [m^2] at the impact point."""
        a, b, th = ellipse_from_covariance(cov_en_m2)
        return cls(lat_rad, lon_rad, int(t_ns), t_sigma_s, float(a), float(b), float(th))

    def ring(self, k: float = 1.0, n: int = 72) -> NDArray[np.float64]:
        """Closed ``[lat, lon]`` rad ring (n + 1, 2) of the ``k``-sigma ellipse (read-only).

        Cached per prediction: the hub assesses the same released prediction for every
        partner in a cycle, and drawing a ring with exact geodesics is ~80 % of an
        assessment's cost (measured: 6 ms of 7 ms on a recorded SRBM run).
        """
        return _ring(self, float(k), int(n))


@functools.lru_cache(maxsize=512)
def _ring(imp: ImpactPrediction, k: float, n: int) -> NDArray[np.float64]:
    ring = ellipse_ring(
        imp.lat_rad, imp.lon_rad, imp.semi_major_m, imp.semi_minor_m, imp.orientation_rad, k, n
    )
    ring.flags.writeable = False
    return ring


def _empty_track() -> NDArray[np.float64]:
    return np.zeros((0, 2))


@dataclass(frozen=True, eq=False)
class ThreatInput:
    """What the rules need to know about one system track at one time.

    ``ground_track_rad`` holds ``[lat, lon]`` samples (K, 2) of the *remaining* predicted
    flight (sub-missile points), used for the overflight test. ``r_ecef_m``/``v_ecef_mps``
    (3,) and the optional 3x3 ECEF position/velocity covariances feed the CoT export.
    """

    track_id: str
    t_ns: int
    status: str = "in_flight"
    phase: str = "unknown"
    confirmed: bool = True
    launch_lat_rad: float = math.nan
    launch_lon_rad: float = math.nan
    launch_t_ns: int | None = None
    impact: ImpactPrediction | None = None
    ground_track_rad: NDArray[np.float64] = field(default_factory=_empty_track)
    r_ecef_m: NDArray[np.float64] | None = None
    v_ecef_mps: NDArray[np.float64] | None = None
    cov_pos_ecef_m2: NDArray[np.float64] | None = None
    cov_vel_ecef_m2s2: NDArray[np.float64] | None = None
    missile_class: str = ""

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}, got {self.status!r}")
        if self.phase not in PHASES:
            raise ValueError(f"phase must be one of {PHASES}, got {self.phase!r}")
        track = np.asarray(self.ground_track_rad, dtype=float)
        if track.ndim != 2 or track.shape[-1] != 2:
            raise ValueError("ground_track_rad must be (K, 2) [lat, lon] radians")
        # Store a read-only copy so the frozen value cannot change under its holder.
        track = track.copy()
        track.flags.writeable = False
        object.__setattr__(self, "ground_track_rad", track)
        for name, shape in (
            ("r_ecef_m", (3,)),
            ("v_ecef_mps", (3,)),
            ("cov_pos_ecef_m2", (3, 3)),
            ("cov_vel_ecef_m2s2", (3, 3)),
        ):
            value = getattr(self, name)
            if value is not None:
                arr = np.array(value, dtype=float)
                if arr.shape != shape:
                    raise ValueError(f"{name} must have shape {shape}, got {arr.shape}")
                arr.flags.writeable = False
                object.__setattr__(self, name, arr)

    @property
    def has_launch_point(self) -> bool:
        return math.isfinite(self.launch_lat_rad) and math.isfinite(self.launch_lon_rad)

    @property
    def time_to_impact_s(self) -> float:
        """Seconds from ``t_ns`` to the predicted impact (NaN without a prediction)."""
        if self.impact is None:
            return math.nan
        return (self.impact.t_ns - self.t_ns) / 1e9


@dataclass(frozen=True)
class WarningRules:
    """Thresholds of the warning rules (SI units). Defaults are the documented values."""

    threat_k: float = K95  # ellipse scale tested against the zone to raise a threat
    clear_k: float = 3.0  # ellipse scale whose distance decides "far"
    far_distance_m: float = 50e3  # 3-sigma ellipse this far from the zone = no threat
    overflight_kind: str = "territorial"  # area a ground track must cross: land + 12 nm
    # Material change (trilink.alerts.state): any one triggers an Update while threatened.
    impact_shift_m: float = 10e3  # nominal impact point moved at least this far
    impact_time_shift_s: float = 10.0  # predicted impact time moved at least this much
    ellipse_change_ratio: float = 0.25  # 95 % semi-major grew/shrank by this fraction...
    ellipse_change_min_m: float = 5e3  # ...and by at least this many metres
    min_update_interval_s: float = 2.0  # between two Updates that only refine a prediction
    ellipse_hold_s: float = 2.0  # a change of the ellipse's size alone must hold this long
    # A less severe warning (downgrade, place further out, overflight gone) must hold this
    # long before it is announced; more severe ones go at once (docs/alerts.md, sec. 2).
    stand_down_hold_s: float = 15.0
    lost_grace_s: float = 30.0  # after a lost track's predicted impact time, Cancel
    lost_timeout_s: float = 120.0  # a lost track with no prediction is Cancelled after this


@dataclass(frozen=True)
class Assessment:
    """The rules' verdict for one partner about one track at one time."""

    level: str  # "none" | "launch" | "threat"
    threat_impact: bool  # 95 % ellipse reaches the zone
    overflight: bool  # remaining ground track crosses the territory
    held: bool  # threat kept only by hysteresis (rule 3)
    impact_place: str  # innermost area the 95 % ellipse reaches: land/territorial/zone/outside
    nominal_place: str  # area holding the nominal impact point
    distance_to_zone_m: float  # from the 3-sigma ellipse; 0 if overlapping, inf if unknown
    time_to_impact_s: float
    certainty: str  # threat: "Likely" | "Possible"; otherwise "Observed" (the launch is seen)

    @property
    def is_threat(self) -> bool:
        return self.level == "threat"


class Footprint:
    """Where one threat's geometry meets one partner's areas: the facts :func:`decide` needs.

    ``place``/``nominal`` are :mod:`~trilink.alerts.territory` codes (innermost area the
    95 % ellipse reaches; area holding the nominal impact point), ``overflight`` whether
    the remaining ground track crosses the territory. The 3-sigma ellipse's distance to
    the zone is costly (a clipped projection of the zone) and the rules need it only to
    release a held threat, the warning text only when a message is sent: it is computed
    on first use by ``distance_fn`` and kept.
    """

    __slots__ = ("_distance", "_distance_fn", "_radius_aware", "nominal", "overflight", "place")

    def __init__(
        self,
        overflight: bool,
        place: int,
        nominal: int,
        distance_fn: Callable[..., float | None] | None = None,
        distance_m: float | None = None,
        *,
        radius_aware: bool = False,
    ):
        self.overflight = bool(overflight)
        self.place = int(place)
        self.nominal = int(nominal)
        self._distance_fn = distance_fn
        self._distance = distance_m
        self._radius_aware = radius_aware

    def distance_m(self) -> float:
        """Distance [m] from the 3-sigma ellipse to the zone (0 when the 95 % one reaches
        an area, inf without a prediction or past the window)."""
        if self._distance is None:
            if self.place != OUTSIDE:
                self._distance = 0.0
            elif self._distance_fn is None:
                self._distance = math.inf
            else:
                self._distance = float(self._distance_fn())  # type: ignore[arg-type]
        return self._distance

    def beyond(self, threshold_m: float) -> bool:
        """``distance_m() > threshold_m``. A ``distance_fn`` that takes a search radius
        (:mod:`trilink.alerts.footprints`) answers from the area's nearby edges: the
        distance when under half the radius, None when not (then it is beyond); asked
        with ``upper=True`` it gives an upper bound (inf when it has none)."""
        if self._distance is not None or self._distance_fn is None or self.place != OUTSIDE:
            return self.distance_m() > threshold_m
        if not self._radius_aware:
            return self.distance_m() > threshold_m
        # An upper bound (the distance to one segment of the zone, the one nearest the
        # last time) within the threshold settles it: not beyond.
        bound = self._distance_fn(None, upper=True)
        if bound is not None and bound <= threshold_m:
            return False
        # Searched within just over 2x the threshold: an answer under half the radius
        # is the distance itself; None means at least that, so beyond the threshold.
        near = self._distance_fn(2.0 * threshold_m + 2e3)
        if near is None:
            return True
        self._distance = float(near)  # the distance itself: keep it
        return self._distance > threshold_m


def footprint(threat: ThreatInput, territory: Territory, rules: WarningRules) -> Footprint:
    """The facts about ``threat`` against ``territory``, one geometry at a time (the
    reference; :mod:`trilink.alerts.batch` computes the same for many tracks at once)."""
    flying = threat.confirmed and threat.status == "in_flight"
    track = threat.ground_track_rad
    overflight = bool(
        flying and track.shape[0] > 0 and territory.track_crosses(track, rules.overflight_kind)
    )
    if threat.impact is None:
        return Footprint(overflight, OUTSIDE, OUTSIDE, distance_m=math.inf)
    imp = threat.impact
    place = territory.area_place(imp.ring(rules.threat_k))
    nominal = int(territory.locate(imp.lat_rad, imp.lon_rad))
    return Footprint(
        overflight,
        place,
        nominal,
        distance_fn=lambda: territory.distance_m(imp.ring(rules.clear_k), "zone"),
    )


def assess(
    threat: ThreatInput,
    territory: Territory,
    rules: WarningRules = WarningRules(),
    previously_threatened: bool = False,
) -> Assessment:
    """Apply the rules (module docstring) for ``territory``'s nation. Pure."""
    return decide(threat, footprint(threat, territory, rules), rules, previously_threatened)


def decide(
    threat: ThreatInput,
    facts: Footprint,
    rules: WarningRules = WarningRules(),
    previously_threatened: bool = False,
    *,
    need_distance: bool = True,
) -> Assessment:
    """The rules' verdict from the geometric facts. With ``need_distance=False`` the
    3-sigma distance is computed only if the verdict depends on it (releasing a held
    threat); otherwise the Assessment carries NaN there, and :func:`with_distance`
    completes it before it is shown to anyone."""
    tti = threat.time_to_impact_s
    flying = threat.confirmed and threat.status == "in_flight"
    overflight = facts.overflight and flying
    place, nominal = facts.place, facts.nominal
    threat_impact = place != OUTSIDE
    if not flying:
        # Fallen, lost or unconfirmed: no level, but where it fell is still reported.
        return Assessment(
            "none",
            threat_impact,
            False,
            False,
            PLACE_NAMES[place],
            PLACE_NAMES[nominal],
            facts.distance_m() if need_distance else math.nan,
            tti,
            "Observed",
        )

    raised = threat_impact or overflight
    # far = 3-sigma ellipse beyond far_distance_m and no overflight: asked only when it
    # decides something (a held threat), so the distance is computed only then.
    held = (
        (not raised)
        and previously_threatened
        and not (facts.beyond(rules.far_distance_m) and not overflight)
    )
    level = "threat" if (raised or held) else "launch"

    # The ground track given is the nominal one, so an overflight is as likely as the
    # nominal impact point being inside; an ellipse that only grazes the zone is not.
    likely = nominal != OUTSIDE or overflight
    certainty = ("Likely" if likely else "Possible") if level == "threat" else "Observed"
    # The fields as Assessment(...) would set them, without the frozen dataclass's
    # per-field object.__setattr__ (a third of a step's cost at 1,000 tracks).
    a = object.__new__(Assessment)
    a.__dict__.update(
        level=level,
        threat_impact=threat_impact,
        overflight=overflight,
        held=held,
        impact_place=PLACE_NAMES[place],
        nominal_place=PLACE_NAMES[nominal],
        distance_to_zone_m=facts.distance_m() if need_distance else math.nan,
        time_to_impact_s=tti,
        certainty=certainty,
    )
    return a


def with_distance(a: Assessment, facts: Footprint) -> Assessment:
    """``a`` with its 3-sigma distance filled in (see :func:`decide`)."""
    if not math.isnan(a.distance_to_zone_m):
        return a
    return dataclasses.replace(a, distance_to_zone_m=facts.distance_m())
