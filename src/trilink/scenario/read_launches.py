"""``[[launch_sites]]`` and ``[[launches]]`` tables -> :class:`LaunchSite` / :class:`LaunchSpec`.

A launch names its point either by ``site`` (a ``[[launch_sites]]`` id) or by
``lat_deg``/``lon_deg``, and its target either by ``impact_lat_deg``/``impact_lon_deg`` or
by ``azimuth_deg``/``range_km``: exactly one of each pair of forms. ``apogee_km`` is
optional (absent: a minimum-energy flight). Whether the missile class can fly the request
is the physics room's judgement, made when the scenario is simulated.
"""

from __future__ import annotations

import math

from trilink.geo.geodesic import geodesic_inverse
from trilink.scenario.model import LaunchSite, LaunchSpec
from trilink.scenario.read_sensors import KM, check_id, wrap_lon
from trilink.scenario.reader import (
    AZIMUTH,
    LATITUDE,
    LONGITUDE,
    Check,
    TableReader,
    between,
    fmt,
)

FALLBACK_MISSILE_CLASSES = ("SRBM", "IRBM", "ICBM")
MIN_RANGE_KM = 1.0  # a "flight" shorter than this is a typo, not a missile shot
MAX_RANGE_KM = 20_000.0  # half a great circle: anything longer is the other way round
MAX_APOGEE_KM = 50_000.0
MAX_TIME_S = 7 * 86_400.0  # launches within a week of the start (as duration_s)


def missile_classes() -> tuple[str, ...]:
    """The missile classes physics can fly: ``trilink.physics.MISSILE_CLASSES`` keys.

    Imported lazily so that the loader works (with the documented fallback set) before or
    without the physics room's class table.
    """
    try:
        from trilink.physics import MISSILE_CLASSES
    except ImportError:
        return FALLBACK_MISSILE_CLASSES
    return tuple(MISSILE_CLASSES)


def read_launch_site(r: TableReader) -> LaunchSite | None:
    if not r.ok:
        return None
    site_id = r.string("id", check=check_id)
    lat = r.number("lat_deg", check=LATITUDE)
    lon = r.number("lon_deg", check=LONGITUDE)
    r.finish("a launch site")
    if site_id is None or lat is None or lon is None:
        return None
    return LaunchSite(site_id, math.radians(lat), math.radians(wrap_lon(lon)))


def _pair(
    r: TableReader, a: str, b: str, check_a: Check, check_b: Check
) -> tuple[bool, float | None, float | None]:
    """Read two keys that only make sense together; ``(given, a, b)``.

    ``given`` is True when either key is present; a lone half is reported as missing its
    partner.
    """
    va = r.number(a, required=False, check=check_a)
    vb = r.number(b, required=False, check=check_b)
    if r.has(a) != r.has(b):
        missing = b if r.has(a) else a
        r.problem(missing, f"missing ({a} and {b} go together)")
    return r.has(a) or r.has(b), va, vb


def read_launch(
    r: TableReader,
    sites: dict[str, LaunchSite | None],
    start_t_ns: int | None,
    duration_s: float | None,
) -> LaunchSpec | None:
    """One ``[[launches]]`` table; ``sites`` are the declared launch sites by id
    (``None`` for a site whose own table has a problem, already reported)."""
    if not r.ok:
        return None
    launch_id = r.string("id", check=check_id)
    classes = missile_classes()
    missile = r.string("missile", choices=classes)
    time_s = r.number("time_s", check=between(0.0, MAX_TIME_S))
    if time_s is not None and duration_s is not None and time_s >= duration_s:
        r.problem("time_s", f"must be < scenario.duration_s ({fmt(duration_s)}), got {fmt(time_s)}")
        time_s = None

    site_id = r.string("site", required=False)
    given_point, lat, lon = _pair(r, "lat_deg", "lon_deg", LATITUDE, LONGITUDE)
    given_impact, impact_lat, impact_lon = _pair(
        r, "impact_lat_deg", "impact_lon_deg", LATITUDE, LONGITUDE
    )
    given_heading, azimuth, range_km = _pair(
        r, "azimuth_deg", "range_km", AZIMUTH, between(MIN_RANGE_KM, MAX_RANGE_KM)
    )
    apogee = r.number("apogee_km", required=False, check=between(0.0, MAX_APOGEE_KM, open_lo=True))
    r.finish("a launch")

    ok = True
    if r.has("site") and given_point:
        r.problem(None, "give either site or lat_deg/lon_deg for the launch point, not both")
        ok = False
    elif not r.has("site") and not given_point:
        r.problem(None, "missing launch point: give site or lat_deg/lon_deg")
        ok = False
    elif site_id is not None:
        site = sites.get(site_id)
        if site_id not in sites:
            known = ", ".join(sorted(sites)) or "none defined in [[launch_sites]]"
            r.problem("site", f'unknown launch site "{site_id}" (known: {known})')
            ok = False
        elif site is None:
            ok = False  # the site's own problem is reported at launch_sites[...]
        else:
            lat, lon = math.degrees(site.lat_rad), math.degrees(site.lon_rad)
    if given_impact and given_heading:
        r.problem(
            None, "give either impact_lat_deg/impact_lon_deg or azimuth_deg/range_km, not both"
        )
        ok = False
    elif not given_impact and not given_heading:
        r.problem(
            None, "missing target: give impact_lat_deg/impact_lon_deg or azimuth_deg/range_km"
        )
        ok = False

    if (
        ok
        and lat is not None
        and lon is not None
        and impact_lat is not None
        and impact_lon is not None
    ):
        dist_m, _, _ = geodesic_inverse(
            math.radians(lat), math.radians(lon), math.radians(impact_lat), math.radians(impact_lon)
        )
        if float(dist_m) < MIN_RANGE_KM * KM:
            r.problem(
                "impact_lat_deg", f"impact point is {fmt(float(dist_m))} m from the launch point"
            )
            ok = False

    values = (launch_id, missile, time_s, lat, lon, start_t_ns)
    if not ok or any(v is None for v in values):
        return None
    if given_impact and (impact_lat is None or impact_lon is None):
        return None
    if given_heading and (azimuth is None or range_km is None):
        return None
    # Narrowing for the type checker only: every None was excluded just above.
    assert launch_id and missile and time_s is not None and lat is not None and lon is not None
    assert start_t_ns is not None
    return LaunchSpec(
        id=launch_id,
        missile_class=missile,
        launch_lat_rad=math.radians(lat),
        launch_lon_rad=math.radians(wrap_lon(lon)),
        launch_t_ns=start_t_ns + round(time_s * 1e9),
        impact_lat_rad=math.radians(impact_lat) if impact_lat is not None else None,
        impact_lon_rad=math.radians(wrap_lon(impact_lon)) if impact_lon is not None else None,
        azimuth_rad=math.radians(azimuth % 360.0) if azimuth is not None else None,
        range_m=range_km * KM if range_km is not None else None,
        apogee_m=apogee * KM if apogee is not None else None,
        site=site_id,
    )
