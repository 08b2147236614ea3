"""What changed between the warning last announced and the assessment now, and which way.

Two questions :class:`trilink.alerts.state.WarningState` asks before each Update:

- :func:`severity_change`: is the new assessment *more* severe than the one announced
  (announced at once: quick to warn), *less* severe (announced only once it has held for
  ``WarningRules.stand_down_hold_s``: slow to stand down), or neither?
- :func:`material_changes`: what changed materially (where the threat is; the impact
  point, time, or ellipse size beyond the thresholds of :class:`WarningRules`).

Pure functions of plain values; nothing here keeps state.
"""

from __future__ import annotations

from trilink.alerts.rules import Assessment, ImpactPrediction, ThreatInput, WarningRules
from trilink.alerts.territory import PLACE_NAMES
from trilink.geo.geodesic import geodesic_inverse, vincenty_distance_m

PLACE_RANK = {name: code for code, name in PLACE_NAMES.items()}
"""Place name -> rank: outside < zone < territorial < land (the territory's codes)."""

LEVEL_RANK = {"none": 0, "launch": 1, "threat": 2}

MORE_SEVERE, SAME, LESS_SEVERE = 1, 0, -1


def severity(level: str, a: Assessment) -> tuple[int, int, int, int]:
    """The parts of a warning whose change is urgent news, each as a rank (higher is
    more severe): the level, the innermost area the 95 % ellipse reaches, the area of
    the nominal impact point, and whether an overflight is predicted."""
    return (
        LEVEL_RANK[level],
        PLACE_RANK[a.impact_place],
        PLACE_RANK[a.nominal_place],
        int(a.overflight),
    )


def severity_change(
    announced_level: str, announced: Assessment | None, level: str, assessment: Assessment
) -> int:
    """:data:`MORE_SEVERE` when any part of :func:`severity` rose since the announced
    warning (even if another fell: a warning that is more severe anywhere is sent at
    once); :data:`LESS_SEVERE` when some part fell and none rose; else :data:`SAME`."""
    if announced is None:
        return MORE_SEVERE if LEVEL_RANK[level] > LEVEL_RANK[announced_level] else SAME
    old = severity(announced_level, announced)
    new = severity(level, assessment)
    if any(n > o for o, n in zip(old, new, strict=True)):
        return MORE_SEVERE
    if new != old:
        return LESS_SEVERE
    return SAME


def material_changes(
    announced: ImpactPrediction | None,
    announced_assessment: Assessment | None,
    threat: ThreatInput,
    assessment: Assessment,
    rules: WarningRules,
) -> tuple[tuple[str, ...], bool]:
    """What changed materially since the last announced prediction.

    Returns ``(changes, urgent)``: human-readable change notes, and whether any of them
    bypasses the update rate limit (a change of *where* the threat is).
    """
    notes: list[str] = []
    urgent = False
    if announced_assessment is not None:
        for name in ("impact_place", "nominal_place", "overflight"):
            old, new = getattr(announced_assessment, name), getattr(assessment, name)
            if old != new:
                notes.append(f"{name} {old} -> {new}")
                urgent = True
    new = threat.impact
    if new is None:
        return tuple(notes), urgent
    if announced is None:
        notes.append("impact point predicted")
        return tuple(notes), True
    shift_m = impact_shift_m(announced, new, rules.impact_shift_m)
    if shift_m >= rules.impact_shift_m:
        notes.append(f"impact point moved {shift_m / 1e3:.1f} km")
    dt_s = (new.t_ns - announced.t_ns) / 1e9
    if abs(dt_s) >= rules.impact_time_shift_s:
        notes.append(f"impact time moved {dt_s:+.0f} s")
    size = ellipse_change(announced, new, rules)
    if size is not None:
        notes.append(size)
    return tuple(notes), urgent


def impact_shift_m(old: ImpactPrediction, new: ImpactPrediction, threshold_m: float) -> float:
    """Geodesic distance [m] between two predicted impact points, exact (Karney, via
    geographiclib) whenever it may reach ``threshold_m``.

    Vincenty's compiled inverse (1 us, agrees to ~1e-11 relative) answers first; only a
    distance within 1e-6 of the threshold or beyond it is recomputed exactly (150 us),
    so the comparison and any distance written into a warning are the exact ones.
    """
    args = (old.lat_rad, old.lon_rad, new.lat_rad, new.lon_rad)
    approx = vincenty_distance_m(*args)
    if approx < threshold_m * (1.0 - 1e-6):
        return approx
    return float(geodesic_inverse(*args)[0])


def ellipse_change(
    announced: ImpactPrediction | None, new: ImpactPrediction | None, rules: WarningRules
) -> str | None:
    """The note for a material change of the 95 % ellipse's size, or None."""
    if announced is None or new is None:
        return None
    old_a = announced.semi_major_m * rules.threat_k
    new_a = new.semi_major_m * rules.threat_k
    if abs(new_a - old_a) >= max(rules.ellipse_change_ratio * old_a, rules.ellipse_change_min_m):
        return f"95% ellipse semi-major {old_a / 1e3:.1f} -> {new_a / 1e3:.1f} km"
    return None
