"""A driven picture for the web tests: real, signed hub releases of a launch from the
DPRK's west coast into the Sea of Japan, with a Warning released to JPN only.

Kinematics are a smooth lofted arc (great-circle ground path, parabolic height), not a
physics solution: the tests check what the page shows, and every message still passes
the full receive path (decode, Ed25519 signature, subject, replay and clock checks).
"""

from __future__ import annotations

import math

import numpy as np

from trilink.geo.frames import enu_rotation, geodetic_to_ecef
from trilink.link import Keyring, Stamper, private_key_from_seed, subjects
from trilink.messages import (
    Ellipse,
    GroundPoint,
    Heartbeat,
    LaunchEvent,
    SourceTrack,
    SystemTrack,
    Warning,
    pack_covariance,
)

NS = 1_000_000_000
T0_NS = 1_767_225_600 * NS  # 2026-01-01T00:00:00Z, the launch
HUB_KEY = private_key_from_seed(bytes(range(32)))
KEYRING = Keyring.of_private({"HUB": HUB_KEY})
DEG = math.pi / 180

LAUNCH = (39.05, 125.45)  # near Pyongyang (notional)
IMPACT = (40.85, 137.55)  # in Japan's 200-nm zone, west of Aomori (notional)
FLIGHT_S = 600.0
APOGEE_M = 550e3


def _ground(f: float) -> tuple[float, float]:
    """Great-circle point at fraction f from LAUNCH to IMPACT, degrees."""
    a = geodetic_to_ecef([LAUNCH[0] * DEG, LAUNCH[1] * DEG, 0.0])
    b = geodetic_to_ecef([IMPACT[0] * DEG, IMPACT[1] * DEG, 0.0])
    a, b = a / np.linalg.norm(a), b / np.linalg.norm(b)
    om = math.acos(float(np.clip(a @ b, -1, 1)))
    p = (math.sin((1 - f) * om) * a + math.sin(f * om) * b) / math.sin(om)
    return math.degrees(math.asin(p[2])), math.degrees(math.atan2(p[1], p[0]))


def position(t_s: float) -> np.ndarray:
    f = min(max(t_s / FLIGHT_S, 0.0), 1.0)
    lat, lon = _ground(f)
    return geodetic_to_ecef([lat * DEG, lon * DEG, 4 * APOGEE_M * f * (1 - f)])


def state(t_s: float) -> tuple[float, ...]:
    r = position(t_s)
    v = (position(t_s + 0.5) - position(t_s - 0.5)) / 1.0
    return tuple(float(x) for x in (*r, *v))


def covariance(t_s: float, sigma_pos_m: float = 900.0, sigma_vel_mps: float = 25.0):
    """A covariance elongated along-track (3:1) in the horizontal, positive definite."""
    lat, lon = _ground(min(max(t_s / FLIGHT_S, 0.0), 1.0))
    rot = enu_rotation(lat * DEG, lon * DEG)
    p_enu = np.diag([(3 * sigma_pos_m) ** 2, sigma_pos_m**2, (2 * sigma_pos_m) ** 2])
    p_pos = rot.T @ p_enu @ rot
    p = np.zeros((6, 6))
    p[:3, :3] = p_pos
    p[3:, 3:] = np.eye(3) * sigma_vel_mps**2
    p[:3, 3:] = p[3:, :3] = 0.3 * sigma_pos_m * sigma_vel_mps * np.eye(3)
    return pack_covariance(p)


def ground(lat: float, lon: float, t_ns: int, a: float, b: float, az: float) -> GroundPoint:
    return GroundPoint(
        lat_deg=lat, lon_deg=lon, t_ns=t_ns, t_sigma_s=4.0,
        ellipse=Ellipse(sigma_major_m=a, sigma_minor_m=b, major_azimuth_deg=az),
    )  # fmt: skip


LAUNCH_GP = ground(*LAUNCH, T0_NS, 2500.0, 1500.0, 80.0)
IMPACT_GP = ground(*IMPACT, T0_NS + int(FLIGHT_S * NS), 18_000.0, 7_000.0, 72.0)


def system_track(
    number: int, t_s: float, rel: tuple[str, ...], *, offset_deg: float = 0.0
) -> SystemTrack:
    x = list(state(t_s))
    if offset_deg:  # a second object: the same arc shifted north
        r = geodetic_to_ecef([(LAUNCH[0] + offset_deg) * DEG, LAUNCH[1] * DEG, 0.0])
        shift = r - geodetic_to_ecef([LAUNCH[0] * DEG, LAUNCH[1] * DEG, 0.0])
        x[:3] = [float(v) for v in np.asarray(x[:3]) + shift]
    return SystemTrack(
        source="HUB", measured_ns=T0_NS + int(t_s * NS), releasability=rel,
        system_track_number=number, state_ecef=tuple(x), covariance_ecef=covariance(t_s),
        phase="boost" if t_s < 80 else "ballistic", status="confirmed", quality=9,
        launch=LAUNCH_GP, impact=IMPACT_GP if t_s >= 60 else None, apogee_height_m=APOGEE_M,
        sources=(SourceTrack(nation="KOR"), SourceTrack(nation="USA")), missile_class="IRBM",
    )  # fmt: skip


def launch_event(number: int, t_s: float, rel: tuple[str, ...]) -> LaunchEvent:
    return LaunchEvent(
        source="HUB", measured_ns=T0_NS + int(t_s * NS), releasability=rel,
        system_track_number=number, launch=LAUNCH_GP, first_detection_ns=T0_NS + 12 * NS,
        detecting_nations=("KOR", "USA"), missile_class="IRBM",
    )  # fmt: skip


def ellipse_polygon(gp: GroundPoint, k: float = 2.4477, n: int = 24) -> tuple:
    from trilink.alerts.ellipse import ellipse_ring

    ring = ellipse_ring(
        gp.lat_deg * DEG, gp.lon_deg * DEG, gp.ellipse.sigma_major_m,
        gp.ellipse.sigma_minor_m, gp.ellipse.major_azimuth_deg * DEG, k, n,
    )  # fmt: skip
    return tuple((float(a / DEG), float(b / DEG)) for a, b in ring)


def warning(
    wid: str, number: int, t_s: float, partner: str, msg_type: str = "Alert",
    references: tuple[str, ...] = (),
) -> Warning:  # fmt: skip
    measured = T0_NS + int(t_s * NS)
    impact_t = IMPACT_GP.t_ns
    return Warning(
        source="HUB", measured_ns=measured, releasability=(partner,), warning_id=wid,
        partner=partner, system_track_number=number, msg_type=msg_type,  # type: ignore[arg-type]
        references=references, event="Ballistic missile", urgency="Immediate",
        severity="Extreme", certainty="Likely", impact_polygon=ellipse_polygon(IMPACT_GP),
        impact_t_ns=impact_t if msg_type != "Cancel" else None,
        time_to_impact_s=(impact_t - measured) / NS if msg_type != "Cancel" else None,
        area_desc="Sea of Japan, Japan's exclusive economic zone west of Aomori",
        text="Ballistic missile predicted to fall in the Sea of Japan.",
    )  # fmt: skip


def heartbeat(t_s: float, partner: str) -> Heartbeat:
    return Heartbeat(
        source="HUB", measured_ns=T0_NS + int(t_s * NS), releasability=(partner,),
        state="running", uptime_s=3600.0 + t_s,
    )  # fmt: skip


class HubOut:
    """Stamps and signs as the hub, with subjects: ``(subject, payload)`` pairs."""

    def __init__(self) -> None:
        self.stamper = Stamper("HUB", HUB_KEY)

    def seal(self, partner: str, msg) -> tuple[str, bytes]:
        topic = {
            "system_track": "tracks", "launch_event": "events",
            "warning": "warnings", "heartbeat": "status",
        }[type(msg).__struct_config__.tag]  # fmt: skip
        return subjects.hub_out(partner, topic), self.stamper.seal(
            msg, msg.measured_ns + 50_000_000
        )


def scene(hub: HubOut, until_s: float = 240.0, step_s: float = 10.0) -> list[tuple[str, bytes]]:
    """The whole driven run in time order: track 101 released to both partners, track 102
    (a JPN-only release) and a Warning for JPN only; KOR gets no warning."""
    out: list[tuple[str, bytes]] = []
    t = 20.0
    out.append(hub.seal("JPN", launch_event(101, 20.0, ("JPN",))))
    out.append(hub.seal("KOR", launch_event(101, 20.0, ("KOR",))))
    while t <= until_s:
        out.append(hub.seal("JPN", system_track(101, t, ("JPN",))))
        out.append(hub.seal("KOR", system_track(101, t, ("KOR",))))
        out.append(hub.seal("JPN", system_track(102, t, ("JPN",), offset_deg=1.2)))
        if t == 90.0:
            out.append(hub.seal("JPN", warning("W-JPN-101-1", 101, t, "JPN")))
        if t % 60 == 0:
            out.append(hub.seal("JPN", heartbeat(t, "JPN")))
            out.append(hub.seal("KOR", heartbeat(t, "KOR")))
        t += step_s
    return out
