"""``[[sensors]]`` tables -> :class:`~trilink.sensors.specs.RadarSpec` /
:class:`~trilink.sensors.specs.InfraredSatelliteSpec`.

Units at this edge are in the key names (``lat_deg``, ``max_range_km``,
``angle_sigma_mrad``...); the specs are SI and radians. Each reader returns ``None`` when
its table had a problem (already recorded), so one bad sensor never hides another's.
"""

from __future__ import annotations

import math
import re

from trilink.geo.wgs84 import A as EARTH_A
from trilink.scenario.reader import (
    AZIMUTH,
    LATITUDE,
    LONGITUDE,
    NON_NEGATIVE,
    POSITIVE,
    PROBABILITY_OPEN,
    TableReader,
    between,
    fmt,
)
from trilink.sensors.specs import (
    DEFAULT_MIN_PLUME_ALTITUDE_M,
    Face,
    InfraredSatelliteSpec,
    RadarSpec,
    SensorSpec,
)

SENSOR_TYPES = ("radar", "ir")
ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
GEO_RADIUS_M = 42_164_172.0  # geostationary orbit radius (GM / omega^2)^(1/3), metres

KM = 1e3
MRAD = 1e-3
URAD = 1e-6
# Plume-visibility height: above the tropopause (at most ~18 km) there is almost no water
# vapour and no weather cloud, so more than 20 km is a mistake (metres for kilometres?).
MAX_PLUME_ALTITUDE_KM = 20.0


def check_id(value: str) -> str | None:
    if ID_PATTERN.match(value):
        return None
    return (
        f"must be 1-64 letters, digits, '-' or '_' (starting with a letter or digit), got {value!r}"
    )


def wrap_lon(lon_deg: float) -> float:
    """Longitude into [-180, 180) degrees (files may say 230 for 130 W)."""
    return (lon_deg + 180.0) % 360.0 - 180.0


def read_face(r: TableReader) -> Face | None:
    if not r.ok:
        return None
    az = r.number("boresight_az_deg", check=AZIMUTH)
    tilt = r.number("tilt_deg", check=between(-10.0, 90.0))
    half_az = r.number("half_width_az_deg", check=between(0.0, 180.0, open_lo=True))
    half_el = r.number("half_width_el_deg", check=between(0.0, 90.0, open_lo=True))
    r.finish("a radar face")
    if az is None or tilt is None or half_az is None or half_el is None:
        return None
    return Face(
        boresight_az_rad=math.radians(az % 360.0),
        tilt_rad=math.radians(tilt),
        half_width_az_rad=math.radians(half_az),
        half_width_el_rad=math.radians(half_el),
    )


def read_radar(r: TableReader, sensor_id: str | None, nation: str | None) -> RadarSpec | None:
    lat = r.number("lat_deg", check=LATITUDE)
    lon = r.number("lon_deg", check=LONGITUDE)
    height = r.number("height_m", required=False, default=0.0, check=between(-500.0, 10_000.0))
    max_range = r.number("max_range_km", check=POSITIVE)
    min_el = r.number(
        "min_elevation_deg", required=False, default=0.0, check=between(-10.0, 90.0, open_hi=True)
    )
    max_el = r.number("max_elevation_deg", required=False, default=90.0, check=between(-10.0, 90.0))
    faces: list[Face | None] = [read_face(f) for f in r.tables("faces")]
    ref_snr = r.number("ref_snr_db", check=between(-50.0, 150.0))
    ref_range = r.number("ref_range_km", check=POSITIVE)
    ref_rcs = r.number("ref_rcs_m2", check=POSITIVE)
    swerling = r.integer("swerling", check=between(0, 4))
    pfa = r.number("pfa", check=PROBABILITY_OPEN)
    range_sigma = r.number("range_sigma_m", check=POSITIVE)
    angle_sigma = r.number("angle_sigma_mrad", check=POSITIVE)
    range_floor = r.number("range_sigma_floor_m", check=POSITIVE)
    angle_floor = r.number("angle_sigma_floor_mrad", check=POSITIVE)
    revisit = r.number("revisit_s", check=POSITIVE)
    false_alarms = r.number(
        "false_alarms_per_scan", required=False, default=0.0, check=NON_NEGATIVE
    )
    r.finish("a radar sensor")

    if min_el is not None and max_el is not None and max_el <= min_el:
        r.problem(
            "max_elevation_deg", f"must be > min_elevation_deg ({fmt(min_el)}), got {fmt(max_el)}"
        )
        max_el = None
    if range_sigma is not None and range_floor is not None and range_floor > range_sigma:
        r.problem(
            "range_sigma_floor_m",
            f"must be <= range_sigma_m ({fmt(range_sigma)}), got {fmt(range_floor)}",
        )
        range_floor = None
    if angle_sigma is not None and angle_floor is not None and angle_floor > angle_sigma:
        r.problem(
            "angle_sigma_floor_mrad",
            f"must be <= angle_sigma_mrad ({fmt(angle_sigma)}), got {fmt(angle_floor)}",
        )
        angle_floor = None

    values = (sensor_id, nation, lat, lon, height, max_range, min_el, max_el, ref_snr, ref_range,
              ref_rcs, swerling, pfa, range_sigma, angle_sigma, range_floor, angle_floor, revisit,
              false_alarms)  # fmt: skip
    if any(v is None for v in values) or any(f is None for f in faces):
        return None
    # Narrowing for the type checker only: every None was excluded just above.
    assert sensor_id and nation and lat is not None and lon is not None and height is not None
    assert max_range and min_el is not None and max_el is not None and ref_snr is not None
    assert ref_range and ref_rcs and swerling is not None and pfa and range_sigma and angle_sigma
    assert range_floor and angle_floor and revisit and false_alarms is not None
    return RadarSpec(
        sensor_id=sensor_id,
        nation=nation,
        lat_rad=math.radians(lat),
        lon_rad=math.radians(wrap_lon(lon)),
        height_m=height,
        faces=tuple(f for f in faces if f is not None),
        min_elevation_rad=math.radians(min_el),
        max_elevation_rad=math.radians(max_el),
        max_range_m=max_range * KM,
        ref_range_m=ref_range * KM,
        ref_snr_db=ref_snr,
        ref_rcs_m2=ref_rcs,
        swerling=swerling,
        pfa=pfa,
        range_sigma_m=range_sigma,
        angle_sigma_rad=angle_sigma * MRAD,
        range_sigma_floor_m=range_floor,
        angle_sigma_floor_rad=angle_floor * MRAD,
        revisit_s=revisit,
        false_alarms_per_scan=false_alarms,
    )


def visible_from_geo(sub_lon_deg: float, lat_deg: float, lon_deg: float) -> bool:
    """Whether a ground point is on the Earth disc seen from a geostationary satellite.

    On a sphere of radius ``a`` a point at central angle ``psi`` from the sub-satellite
    point is above the satellite's horizon when ``cos(psi) > a / r_geo`` (psi < ~81.3 deg).
    """
    lat, dlon = math.radians(lat_deg), math.radians(lon_deg - sub_lon_deg)
    cos_psi = math.cos(lat) * math.cos(dlon)
    return cos_psi > EARTH_A / GEO_RADIUS_M


def read_ir(
    r: TableReader, sensor_id: str | None, nation: str | None
) -> InfraredSatelliteSpec | None:
    sub_lon = r.number("sub_lon_deg", check=LONGITUDE)
    aim_lat = r.number("aim_lat_deg", check=LATITUDE)
    aim_lon = r.number("aim_lon_deg", check=LONGITUDE)
    field = r.number("field_of_regard_deg", check=between(0.0, 90.0, open_lo=True))
    angle_sigma = r.number("angle_sigma_urad", check=POSITIVE)
    revisit = r.number("revisit_s", check=POSITIVE)
    pd = r.number("pd", check=between(0.0, 1.0, open_lo=True))
    false_alarms = r.number(
        "false_alarms_per_scan", required=False, default=0.0, check=NON_NEGATIVE
    )
    plume_alt = r.number(
        "min_plume_altitude_km",
        required=False,
        default=DEFAULT_MIN_PLUME_ALTITUDE_M / KM,
        check=between(0.0, MAX_PLUME_ALTITUDE_KM),
    )
    r.finish("an ir sensor")

    if sub_lon is not None and aim_lat is not None and aim_lon is not None:
        if not visible_from_geo(sub_lon, aim_lat, aim_lon):
            r.problem(
                "aim_lat_deg",
                f"aim point ({fmt(aim_lat)}, {fmt(aim_lon)}) is beyond the Earth's limb seen "
                f"from a geostationary satellite at sub_lon_deg = {fmt(sub_lon)}",
            )
            aim_lat = None
    values = (
        sensor_id,
        nation,
        sub_lon,
        aim_lat,
        aim_lon,
        field,
        angle_sigma,
        revisit,
        pd,
        false_alarms,
        plume_alt,
    )
    if any(v is None for v in values):
        return None
    # Narrowing for the type checker only: every None was excluded just above.
    assert sensor_id and nation and sub_lon is not None and aim_lat is not None
    assert (
        aim_lon is not None
        and field
        and angle_sigma
        and revisit
        and pd
        and false_alarms is not None
        and plume_alt is not None
    )
    return InfraredSatelliteSpec(
        sensor_id=sensor_id,
        nation=nation,
        sub_lon_rad=math.radians(wrap_lon(sub_lon)),
        aim_lat_rad=math.radians(aim_lat),
        aim_lon_rad=math.radians(wrap_lon(aim_lon)),
        field_of_regard_rad=math.radians(field),
        angle_sigma_rad=angle_sigma * URAD,
        revisit_s=revisit,
        pd=pd,
        false_alarms_per_scan=false_alarms,
        min_plume_altitude_m=plume_alt * KM,
    )


def read_sensor(r: TableReader, nations: dict[str, str | None]) -> SensorSpec | None:
    """One ``[[sensors]]`` table; ``nations`` maps declared nation ids to their role
    (``None`` when that nation's own table has a problem, already reported)."""
    if not r.ok:
        return None
    sensor_id = r.string("id", check=check_id)
    nation = r.string("nation")
    if nation is not None and nations and nation not in nations:
        r.problem("nation", f'unknown nation "{nation}" (known: {", ".join(sorted(nations))})')
        nation = None
    kind = r.string("type", choices=SENSOR_TYPES)
    if kind == "radar":
        return read_radar(r, sensor_id, nation)
    if kind == "ir":
        return read_ir(r, sensor_id, nation)
    return None  # type missing or wrong: its keys cannot be judged, the type problem says why
