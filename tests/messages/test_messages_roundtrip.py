"""Every message kind survives encode -> decode (MessagePack and JSON), for any valid value."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import trilink.messages as m
from trilink.link.codec import Decoder, encode, encode_json
from trilink.link.golden import golden_key
from trilink.link.signing import Keyring, sign

INT63 = 2**63 - 1
finite = st.floats(allow_nan=False, allow_infinity=False)
times = st.integers(0, INT63)
counts = st.integers(0, INT63)
nodes = st.from_regex(m.NODE_ID_PATTERN, fullmatch=True)
short = st.text(min_size=1, max_size=64)
ids = st.builds(
    m.uuid7, st.integers(0, (1 << 48) * 1_000_000 - 1), st.binary(min_size=8, max_size=8)
)
lat = st.floats(-90, 90)
lon = st.floats(-180, 180)


@st.composite
def covariances(draw):
    """Positive definite by construction, with variances over 12 orders of magnitude."""
    low = np.tril(
        np.array(draw(st.lists(st.floats(-3, 3), min_size=36, max_size=36))).reshape(6, 6)
    )
    c = low @ low.T + np.eye(6)  # eigenvalues >= 1
    r = c / np.sqrt(np.outer(np.diag(c), np.diag(c)))  # unit diagonal
    sd = np.sqrt(draw(st.lists(st.floats(1e-2, 1e10), min_size=6, max_size=6)))
    return m.pack_covariance(r * np.outer(sd, sd))


@st.composite
def ellipses(draw):
    major = draw(st.floats(0, 1e7))
    return m.Ellipse(
        sigma_major_m=major,
        sigma_minor_m=major * draw(st.floats(0, 1)),
        major_azimuth_deg=draw(st.floats(0, 180, exclude_max=True)),
    )


ground = st.builds(
    m.GroundPoint,
    lat_deg=lat,
    lon_deg=lon,
    t_ns=times,
    t_sigma_s=st.floats(0, 1e6),
    ellipse=ellipses(),
)
envelope = {
    "message_id": ids,
    "source": nodes,
    "seq": counts,
    "measured_ns": times,
    "sent_ns": times,
    "releasability": st.lists(nodes, unique=True, max_size=16).map(tuple),
    "signature": st.sampled_from([b"", bytes(range(64))]),
}
states = st.tuples(*[finite] * 6)
track_body = {
    "state_ecef": states,
    "covariance_ecef": covariances(),
    "phase": st.sampled_from(["boost", "ballistic", "reentry", "unknown"]),
    "status": st.sampled_from(["tentative", "confirmed", "lost"]),
    "quality": st.integers(0, 15),
    "launch": st.none() | ground,
    "impact": st.none() | ground,
    "apogee_height_m": st.none() | finite,
    "missile_class": st.none() | st.text(max_size=16),
}


@st.composite
def rings(draw):
    pts = draw(st.lists(st.tuples(lat, lon), min_size=3, max_size=20))
    return (*pts, pts[0])


@st.composite
def warnings(draw):
    measured = draw(st.integers(0, 2**62))
    impact = draw(st.none() | st.integers(0, 2**62))
    return m.Warning(
        **{k: draw(v) for k, v in envelope.items() if k != "measured_ns"},
        measured_ns=measured,
        warning_id=draw(short),
        partner=draw(nodes),
        system_track_number=draw(st.integers(1, 2**31 - 1)),
        msg_type=draw(st.sampled_from(["Alert", "Update", "Cancel"])),
        references=tuple(draw(st.lists(short, max_size=5))),
        event=draw(st.text(min_size=1, max_size=128)),
        urgency=draw(st.sampled_from(["Immediate", "Expected", "Future", "Past", "Unknown"])),
        severity=draw(st.sampled_from(["Extreme", "Severe", "Moderate", "Minor", "Unknown"])),
        certainty=draw(st.sampled_from(["Observed", "Likely", "Possible", "Unlikely", "Unknown"])),
        impact_polygon=draw(st.just(()) | rings()),
        impact_t_ns=impact,
        time_to_impact_s=None if impact is None else (impact - measured) / 1e9,
        area_desc=draw(st.text(max_size=100)),
        text=draw(st.text(max_size=300)),
    )


messages = st.one_of(
    st.builds(
        m.TrackReport,
        **envelope,
        **track_body,
        track_id=short,
        nation=nodes,
        n_updates=counts,
        sensors=st.lists(short, max_size=8).map(tuple),
    ),
    st.builds(
        m.SystemTrack,
        **envelope,
        **track_body,
        system_track_number=st.integers(1, 2**31 - 1),
        sources=st.lists(
            st.builds(m.SourceTrack, nation=nodes, track_id=st.none() | st.text(max_size=64)),
            max_size=4,
        ).map(tuple),
    ),
    st.builds(
        m.LaunchEvent,
        **envelope,
        system_track_number=st.integers(1, 2**31 - 1),
        launch=ground,
        first_detection_ns=times,
        detecting_nations=st.lists(nodes, max_size=4).map(tuple),
        missile_class=st.none() | st.text(max_size=16),
    ),
    warnings(),
    st.builds(
        m.Heartbeat,
        **envelope,
        state=st.sampled_from(["starting", "running", "degraded", "stopping"]),
        uptime_s=st.floats(0, 1e9),
        peers=st.lists(
            st.builds(
                m.PeerStatus,
                peer=nodes,
                last_seq_sent=st.none() | counts,
                last_seq_received=st.none() | counts,
                last_received_ns=st.none() | times,
                rejected=counts,
            ),
            max_size=4,
        ).map(tuple),
        deadletters=counts,
    ),
    st.builds(
        m.Reject,
        **envelope,
        rejected_message_id=st.none() | st.text(max_size=64),
        rejected_source=st.none() | st.text(max_size=64),
        rejected_seq=st.none() | counts,
        reason=st.sampled_from(list(m.RejectReason.__args__)),
        field=st.text(max_size=256),
        detail=st.text(max_size=1024),
    ),
)
decoder = Decoder()


@settings(max_examples=200)
@given(messages)
def test_msgpack_round_trip(msg):
    data = encode(msg)
    back = decoder.decode(data)
    assert back == msg and type(back) is type(msg)
    assert encode(back) == data  # canonical: re-encoding is byte-identical


@settings(max_examples=100)
@given(messages)
def test_json_round_trip(msg):
    assert decoder.decode_json(encode_json(msg)) == msg


@settings(max_examples=60)
@given(messages)
def test_signed_message_verifies_after_the_wire(msg):
    signed = sign(msg, golden_key())
    back = decoder.decode(encode(signed))
    Keyring.of_private({msg.source: golden_key()}).verify(back)
