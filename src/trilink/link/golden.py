"""Golden test vectors: one fixed, signed example of every message kind.

Everything is fixed so the bytes are too: the Ed25519 key is the secret key of RFC 8032
section 7.1 TEST 1 (so an implementer can first check their Ed25519 against the RFC),
ids are UUIDv7s made from fixed times and fixed random bits, times are round UTC
instants. Ed25519 signatures are deterministic, so the signed bytes never change unless
the contract does; ``scripts/gen_schema.py`` writes them to tests/messages/golden/ and the
tests fail when the committed files and this module disagree.

The values are plausible (a boost-phase track over Sunan, a ballistic system track over
the Sea of Japan), not the output of a simulation. The bundle carries two of KOR's
reports (the track report example and the next one, half a second later), each encoded
with an empty signature, under one signature.
"""

from __future__ import annotations

import msgspec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from trilink.link.codec import encode
from trilink.link.signing import private_key_from_seed, sign
from trilink.messages import (
    Bundle,
    Ellipse,
    Envelope,
    GroundPoint,
    Heartbeat,
    LaunchEvent,
    PeerStatus,
    Reject,
    SourceTrack,
    SystemTrack,
    TrackReport,
    Warning,
    pack_covariance,
    track_quality,
    uuid7,
)

RFC8032_TEST1_SECRET = bytes.fromhex(
    "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"
)
RFC8032_TEST1_PUBLIC = bytes.fromhex(
    "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
)
T0_NS = 1_704_067_200_000_000_000  # 2024-01-01T00:00:00Z
S = 1_000_000_000


def golden_key() -> Ed25519PrivateKey:
    return private_key_from_seed(RFC8032_TEST1_SECRET)


def _id(t_ns: int, n: int) -> str:
    return uuid7(t_ns, bytes([n]) * 8)


def _cov(pos_sigma_m: float, vel_sigma_mps: float, rho_xv: float) -> tuple[float, ...]:
    """Diagonal position/velocity variances with correlation rho_xv between each position
    axis and its own velocity (a simple, positive-definite filter-like covariance)."""
    p = [[0.0] * 6 for _ in range(6)]
    for i in range(3):
        p[i][i] = pos_sigma_m**2
        p[i + 3][i + 3] = vel_sigma_mps**2
        p[i][i + 3] = p[i + 3][i] = rho_xv * pos_sigma_m * vel_sigma_mps
    return pack_covariance(p)


LAUNCH = GroundPoint(
    lat_deg=39.2,
    lon_deg=125.67,
    t_ns=T0_NS,
    t_sigma_s=1.5,
    ellipse=Ellipse(sigma_major_m=1200.0, sigma_minor_m=600.0, major_azimuth_deg=75.0),
)
IMPACT = GroundPoint(
    lat_deg=40.3,
    lon_deg=136.2,
    t_ns=T0_NS + 1_320 * S,
    t_sigma_s=4.0,
    ellipse=Ellipse(sigma_major_m=9000.0, sigma_minor_m=2500.0, major_azimuth_deg=82.5),
)


def unsigned_examples() -> dict[str, Envelope]:
    """One example per kind, envelope complete except for the signature."""
    t = T0_NS
    return {
        "track_report": TrackReport(
            message_id=_id(t + 62 * S, 1),
            source="KOR",
            seq=41,
            measured_ns=t + 61 * S + 500_000_000,
            sent_ns=t + 62 * S,
            releasability=("JPN", "KOR", "USA"),
            track_id="K0007",
            nation="KOR",
            state_ecef=(-2916736.4, 4051602.5, 4051810.4, -1759.0, -124.0, 758.0),
            covariance_ecef=_cov(150.0, 25.0, 0.6),
            phase="boost",
            status="confirmed",
            quality=track_quality(150.0),  # RMS position sigma of this covariance
            n_updates=12,
            launch=LAUNCH,
            impact=None,
            apogee_height_m=None,
            sensors=("KOR-GP-N", "KOR-GP-S"),
            missile_class=None,
        ),
        "system_track": SystemTrack(
            message_id=_id(t + 300 * S, 2),
            source="HUB",
            seq=1009,
            measured_ns=t + 299 * S,
            sent_ns=t + 300 * S,
            releasability=("JPN",),
            system_track_number=3001,
            state_ecef=(-3524802.9, 3779888.3, 4293981.0, -1931.0, -2327.0, -321.0),
            covariance_ecef=_cov(80.0, 6.0, 0.8),
            phase="ballistic",
            status="confirmed",
            quality=13,
            launch=LAUNCH,
            impact=IMPACT,
            apogee_height_m=970_000.0,
            sources=(SourceTrack(nation="KOR", track_id=None), SourceTrack(nation="JPN")),
            missile_class="IRBM",
        ),
        "launch_event": LaunchEvent(
            message_id=_id(t + 70 * S, 3),
            source="HUB",
            seq=1000,
            measured_ns=t + 69 * S,
            sent_ns=t + 70 * S,
            releasability=("JPN",),
            system_track_number=3001,
            launch=LAUNCH,
            first_detection_ns=t + 38 * S,
            detecting_nations=("KOR", "USA"),
            missile_class=None,
        ),
        "warning": Warning(
            message_id=_id(t + 301 * S, 4),
            source="HUB",
            seq=1010,
            measured_ns=t + 299 * S,
            sent_ns=t + 301 * S,
            releasability=("JPN",),
            warning_id="W-3001-1",
            partner="JPN",
            system_track_number=3001,
            msg_type="Alert",
            references=(),
            event="Ballistic missile",
            urgency="Immediate",
            severity="Extreme",
            certainty="Likely",
            impact_polygon=(
                (40.25, 135.9),
                (40.45, 136.1),
                (40.35, 136.5),
                (40.15, 136.3),
                (40.25, 135.9),
            ),
            impact_t_ns=t + 1_320 * S,
            time_to_impact_s=1021.0,
            area_desc="Sea of Japan, inside Japan's EEZ west of Akita",
            text="Missile launched from Sunan area; predicted to fall in the Sea of Japan.",
        ),
        "heartbeat": Heartbeat(
            message_id=_id(t + 10 * S, 5),
            source="JPN",
            seq=7,
            measured_ns=t + 10 * S,
            sent_ns=t + 10 * S,
            releasability=("JPN", "USA"),
            state="running",
            uptime_s=3600.25,
            peers=(
                PeerStatus(
                    peer="HUB",
                    last_seq_sent=6,
                    last_seq_received=998,
                    last_received_ns=t + 9 * S,
                    rejected=0,
                ),
            ),
            deadletters=0,
        ),
        "reject": Reject(
            message_id=_id(t + 400 * S, 6),
            source="HUB",
            seq=1100,
            measured_ns=t + 400 * S,
            sent_ns=t + 400 * S,
            releasability=("KOR",),
            rejected_message_id=_id(t + 399 * S, 7),
            rejected_source="KOR",
            rejected_seq=52,
            reason="invalid",
            field="covariance_ecef",
            detail="not positive definite: Cholesky pivot 3 of the unit-diagonal matrix is -0.2",
        ),
    }


def bundle_items() -> tuple[TrackReport, TrackReport]:
    """The two messages inside the golden bundle (stamped, signatures empty)."""
    first = unsigned_examples()["track_report"]
    assert isinstance(first, TrackReport)
    second = msgspec.structs.replace(
        first,
        message_id=_id(T0_NS + 62 * S + 500_000_000, 8),
        seq=first.seq + 1,
        measured_ns=first.measured_ns + S // 2,
        sent_ns=first.sent_ns + S // 2,
        state_ecef=(-2917615.9, 4051540.5, 4052189.4, -1760.0, -124.0, 759.5),
        n_updates=first.n_updates + 1,
    )
    return first, second


def unsigned_bundle() -> Bundle:
    items = bundle_items()
    return Bundle(
        message_id=_id(T0_NS + 63 * S, 9),
        source="KOR",
        seq=items[-1].seq + 1,
        measured_ns=max(m.measured_ns for m in items),
        sent_ns=T0_NS + 63 * S,
        releasability=("JPN", "KOR", "USA"),
        items=tuple(encode(m) for m in items),
    )


def signed_examples() -> dict[str, Envelope]:
    """Every wire kind signed: the six content kinds and a bundle."""
    key = golden_key()
    out = {k: sign(m, key) for k, m in unsigned_examples().items()}
    out["bundle"] = sign(unsigned_bundle(), key)
    return out
