"""Cursor on Target (CoT 2.0 event XML) for TAK clients and servers.

A track becomes one event:

- ``type="a-h-A-W-M-S-S"`` (atom / hostile / Air / Weapon / Missile / Surface-to-Surface),
  ``how="m-f"`` (machine, fused), ``uid`` stable per system track (``trilink.<track>``);
- ``time`` = ``start`` = the track state's time, ``stale`` a short ``stale_s`` (20 s) later,
  so a track that stops updating fades instead of lingering;
- ``point``: WGS84 ``lat``/``lon`` degrees, ``hae`` (height above the ellipsoid, m), and
  1-sigma ``ce``/``le`` in metres from the position covariance rotated into the local
  east/north/up frame, ``P_enu = R P_ecef R^T``:

  ``ce = sqrt(lambda_max(P_en))`` - the largest horizontal standard deviation, i.e. the
  radius of the smallest circle holding the 1-sigma error ellipse (conservative: it
  never understates the error in any direction; for a circular error it is the usual
  per-axis sigma); ``le = sqrt(P_uu)``. Unknown: 9999999 (CoT's convention).
- ``detail``: ``<track course speed slope>`` (degrees clockwise from true north, m/s
  horizontal, degrees above the horizon) with ``eCourse``/``eSpeed`` 1-sigma when a
  velocity covariance is given; ``<contact callsign>``; ``<remarks>`` in plain words;
  releasability in the event's ``access``, ``caveat`` and ``releasableTo`` attributes.

The impact ellipse becomes a second event, uid ``trilink.<track>.ipp``, either

- ``u-d-c-e`` (ATAK's ellipse drawing) with ``<shape><ellipse major minor angle>``: ATAK
  reads ``major``/``minor`` as full axis **lengths** (it halves them into radii,
  ``DrawingEllipseImporter``) and ``angle`` as the major axis's heading in degrees
  clockwise from true north (``Ellipse.recomputePoly``); other readers take them as
  semi-axes, which is why
- ``u-d-f`` (freehand polygon: one ``<link point="lat,lon,hae">`` per vertex, first
  repeated last to close) is offered too: unambiguous for every client.

:func:`stream_cot` sends events over plain TCP (TAK's streaming input: XML documents back
to back) or UDP (one event per datagram).
"""

from __future__ import annotations

import asyncio
import math
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterable, Iterable
from urllib.parse import urlsplit

import numpy as np
from numpy.typing import ArrayLike, NDArray

from trilink.alerts.ellipse import K95
from trilink.alerts.rules import ThreatInput
from trilink.alerts.timefmt import iso_z
from trilink.geo.frames import ecef_to_geodetic, enu_rotation

MISSILE_TYPE = "a-h-A-W-M-S-S"
UNKNOWN_ERROR = 9999999.0
UID_PREFIX = "trilink"


def horizontal_ce_m(cov_en_m2: ArrayLike) -> NDArray[np.float64]:
    """CoT ``ce`` (1 sigma, m) from east/north covariances (..., 2, 2): sqrt of the largest
    eigenvalue (see module notes)."""
    cov = np.asarray(cov_en_m2, dtype=float)
    sym = 0.5 * (cov + np.swapaxes(cov, -1, -2))
    return np.sqrt(np.clip(np.linalg.eigvalsh(sym)[..., -1], 0.0, None))


def enu_covariance(cov_ecef: ArrayLike, lat_rad: float, lon_rad: float) -> NDArray[np.float64]:
    """Rotate an ECEF covariance (3, 3) into the east/north/up axes at a point."""
    rot = enu_rotation(lat_rad, lon_rad)
    return rot @ np.asarray(cov_ecef, dtype=float) @ rot.T


def _f(x: float, digits: int) -> str:
    return f"{x:.{digits}f}"


def _event(
    uid: str, kind: str, t_ns: int, stale_ns: int, how: str, rel: dict[str, str]
) -> ET.Element:
    attrs = {
        "version": "2.0",
        "uid": uid,
        "type": kind,
        "how": how,
        "time": iso_z(t_ns),
        "start": iso_z(t_ns),
        "stale": iso_z(stale_ns),
    }
    attrs.update({k: v for k, v in rel.items() if v})
    return ET.Element("event", attrs)


def _releasability(access: str, caveat: str, releasable_to: Iterable[str]) -> dict[str, str]:
    return {"access": access, "caveat": caveat, "releasableTo": " ".join(releasable_to)}


def to_cot(
    threat: ThreatInput,
    *,
    stale_s: float = 20.0,
    access: str = "Unclassified",
    caveat: str = "",
    releasable_to: Iterable[str] = (),
    callsign: str | None = None,
    uid_prefix: str = UID_PREFIX,
) -> str:
    """The CoT event of a missile track (needs ``threat.r_ecef_m``)."""
    if threat.r_ecef_m is None:
        raise ValueError(f"track {threat.track_id}: a CoT point needs r_ecef_m")
    lat, lon, hae = (float(v) for v in ecef_to_geodetic(threat.r_ecef_m))
    ce = le = UNKNOWN_ERROR
    if threat.cov_pos_ecef_m2 is not None:
        p = enu_covariance(threat.cov_pos_ecef_m2, lat, lon)
        ce = float(horizontal_ce_m(p[:2, :2]))
        le = math.sqrt(max(p[2, 2], 0.0))
    rel = _releasability(access, caveat, releasable_to)
    ev = _event(
        f"{uid_prefix}.{threat.track_id}",
        MISSILE_TYPE,
        threat.t_ns,
        threat.t_ns + int(stale_s * 1e9),
        "m-f",
        rel,
    )
    ET.SubElement(
        ev,
        "point",
        {
            "lat": _f(math.degrees(lat), 7),
            "lon": _f(math.degrees(lon), 7),
            "hae": _f(hae, 1),
            "ce": _f(ce, 1),
            "le": _f(le, 1),
        },
    )
    detail = ET.SubElement(ev, "detail")
    ET.SubElement(detail, "contact", {"callsign": callsign or f"MSL {threat.track_id}"})
    if threat.v_ecef_mps is not None:
        ET.SubElement(detail, "track", _track_attrs(threat, lat, lon))
    remarks = ET.SubElement(detail, "remarks")
    remarks.text = _remarks(threat, releasable_to)
    return ET.tostring(ev, encoding="unicode")


def _track_attrs(threat: ThreatInput, lat: float, lon: float) -> dict[str, str]:
    rot = enu_rotation(lat, lon)
    ve, vn, vu = rot @ np.asarray(threat.v_ecef_mps)
    speed = math.hypot(ve, vn)
    attrs = {
        "course": _f(math.degrees(math.atan2(ve, vn)) % 360.0, 2),
        "speed": _f(speed, 2),
        "slope": _f(math.degrees(math.atan2(vu, speed)), 2),
    }
    if threat.cov_vel_ecef_m2s2 is not None and speed > 0:
        pv = (rot @ np.asarray(threat.cov_vel_ecef_m2s2) @ rot.T)[:2, :2]
        along = np.array([ve, vn]) / speed  # speed error lies along the velocity...
        across = np.array([vn, -ve]) / speed  # ...course error across it, over the speed
        var_speed = max(float(along @ pv @ along), 0.0)
        var_cross = max(float(across @ pv @ across), 0.0)
        attrs["eSpeed"] = _f(math.sqrt(var_speed), 2)
        attrs["eCourse"] = _f(math.degrees(math.sqrt(var_cross) / speed), 3)
    return attrs


def _remarks(threat: ThreatInput, releasable_to: Iterable[str]) -> str:
    parts = [f"Missile track {threat.track_id}, {threat.phase}, {threat.status}."]
    if threat.impact is not None:
        imp = threat.impact
        parts.append(
            f"Predicted impact {math.degrees(imp.lat_rad):.3f},{math.degrees(imp.lon_rad):.3f} "
            f"in {threat.time_to_impact_s:.0f} s; 95% ellipse "
            f"{K95 * imp.semi_major_m / 1e3:.1f} x {K95 * imp.semi_minor_m / 1e3:.1f} km."
        )
    rel = list(releasable_to)
    if rel:
        parts.append("REL TO " + ", ".join(rel) + ".")
    return " ".join(parts)


def impact_ellipse_cot(
    threat: ThreatInput,
    *,
    k: float = K95,
    form: str = "ellipse",
    stale_s: float | None = None,
    access: str = "Unclassified",
    caveat: str = "",
    releasable_to: Iterable[str] = (),
    uid_prefix: str = UID_PREFIX,
    vertices: int = 36,
) -> str | None:
    """The impact ellipse (``k``-sigma, 95 % by default) as a CoT drawing, or None.

    ``form="ellipse"`` gives ``u-d-c-e``; ``form="polygon"`` gives ``u-d-f``. The drawing
    goes stale ``stale_s`` after the track time, by default 60 s after the predicted impact.
    """
    imp = threat.impact
    if imp is None:
        return None
    if form not in ("ellipse", "polygon"):
        raise ValueError("form must be 'ellipse' or 'polygon'")
    stale_ns = (
        threat.t_ns + int(stale_s * 1e9)
        if stale_s is not None
        else max(imp.t_ns, threat.t_ns) + 60 * 10**9
    )
    kind = "u-d-c-e" if form == "ellipse" else "u-d-f"
    ev = _event(
        f"{uid_prefix}.{threat.track_id}.ipp",
        kind,
        threat.t_ns,
        stale_ns,
        "m-f",
        _releasability(access, caveat, releasable_to),
    )
    ET.SubElement(
        ev,
        "point",
        {
            "lat": _f(math.degrees(imp.lat_rad), 7),
            "lon": _f(math.degrees(imp.lon_rad), 7),
            "hae": "0.0",
            "ce": _f(UNKNOWN_ERROR, 1),
            "le": _f(UNKNOWN_ERROR, 1),
        },
    )
    detail = ET.SubElement(ev, "detail")
    if form == "ellipse":
        shape = ET.SubElement(detail, "shape")
        ET.SubElement(
            shape,
            "ellipse",
            {
                "major": _f(2.0 * k * imp.semi_major_m, 1),
                "minor": _f(2.0 * k * imp.semi_minor_m, 1),
                "angle": _f(math.degrees(imp.orientation_rad) % 360.0, 2),
            },
        )
    else:
        for lat, lon in imp.ring(k, n=vertices):
            ET.SubElement(
                detail, "link", {"point": f"{math.degrees(lat):.6f},{_wrap_lon_deg(lon):.6f},0.0"}
            )
    ET.SubElement(detail, "contact", {"callsign": f"IPP {threat.track_id}"})
    ET.SubElement(detail, "strokeColor", {"value": str(_argb(255, 255, 0, 0))})
    ET.SubElement(detail, "strokeWeight", {"value": "3.0"})
    ET.SubElement(detail, "fillColor", {"value": str(_argb(64, 255, 0, 0))})
    ET.SubElement(detail, "labels_on", {"value": "true"})
    remarks = ET.SubElement(detail, "remarks")
    remarks.text = (
        f"Predicted impact area of {threat.track_id} ({100 * (1 - math.exp(-0.5 * k * k)):.0f}%)."
    )
    return ET.tostring(ev, encoding="unicode")


def _wrap_lon_deg(lon_rad: float) -> float:
    return (math.degrees(lon_rad) + 180.0) % 360.0 - 180.0


def _argb(a: int, r: int, g: int, b: int) -> int:
    """ARGB packed as the signed 32-bit integer TAK writes in colour details."""
    value = (a << 24) | (r << 16) | (g << 8) | b
    return value - (1 << 32) if value >= 1 << 31 else value


def cot_events(threat: ThreatInput, **kwargs) -> list[str]:
    """The track event and, when there is a prediction, its impact ellipse event."""
    shape_kwargs = {
        k: v for k, v in kwargs.items() if k in ("access", "caveat", "releasable_to", "uid_prefix")
    }
    out = [to_cot(threat, **kwargs)]
    shape = impact_ellipse_cot(threat, **shape_kwargs)
    if shape is not None:
        out.append(shape)
    return out


def parse_cot_url(url: str) -> tuple[str, str, int]:
    """``tcp://HOST:PORT`` or ``udp://HOST:PORT`` to ``(scheme, host, port)``."""
    parts = urlsplit(url)
    if parts.scheme not in ("tcp", "udp"):
        raise ValueError(f"CoT destination must be tcp://HOST:PORT or udp://HOST:PORT, got {url!r}")
    if not parts.hostname or parts.port is None:
        raise ValueError(f"CoT destination needs a host and a port: {url!r}")
    return parts.scheme, parts.hostname, parts.port


async def _aiter(events: Iterable[str] | AsyncIterable[str]):
    if isinstance(events, AsyncIterable):
        async for e in events:
            yield e
    else:
        for e in events:
            yield e


class _Datagrams(asyncio.DatagramProtocol):
    def error_received(self, exc: Exception) -> None:  # e.g. ICMP port unreachable
        self.error = exc


async def stream_cot(
    events: Iterable[str] | AsyncIterable[str], url: str, *, connect_timeout_s: float = 5.0
) -> int:
    """Send CoT event documents to ``url`` (tcp:// or udp://); return how many were sent.

    TCP: one connection, the events written back to back as UTF-8 XML (what TAK servers
    and ATAK's TCP input parse). UDP: one datagram per event. Events may come from an
    async iterator, so a live run streams them as they are made.
    """
    scheme, host, port = parse_cot_url(url)
    sent = 0
    if scheme == "tcp":
        _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), connect_timeout_s)
        try:
            async for event in _aiter(events):
                writer.write(event.encode("utf-8"))
                await writer.drain()
                sent += 1
        finally:
            writer.close()
            await writer.wait_closed()
        return sent
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_datagram_endpoint(_Datagrams, remote_addr=(host, port))
    try:
        async for event in _aiter(events):
            transport.sendto(event.encode("utf-8"))
            sent += 1
    finally:
        transport.close()
    return sent
