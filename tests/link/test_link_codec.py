"""Decoding refuses what does not fit, and every refusal names the field."""

from __future__ import annotations

import copy
import json
import math

import msgspec
import pytest

from trilink.errors import DecodeError
from trilink.link.codec import MAX_MESSAGE_BYTES, Decoder, encode
from trilink.link.golden import signed_examples
from trilink.messages import pack_covariance

NODES = {"KOR", "JPN", "USA", "HUB"}
decoder = Decoder(NODES)
NAN, INF = math.nan, math.inf


def example(kind: str) -> dict:
    return msgspec.msgpack.decode(encode(signed_examples()[kind]))


def setp(d: dict, path: str, value) -> dict:
    """Copy of ``d`` with the dotted/indexed ``path`` set (``a.b[2]``)."""
    d = copy.deepcopy(d)
    keys = [
        int(k) if k.isdigit() else k for k in path.replace("[", ".").replace("]", "").split(".")
    ]
    obj = d
    for k in keys[:-1]:
        obj = obj[k]
    obj[keys[-1]] = value
    return d


def cov(p: list[list[float]]) -> list[float]:
    return list(pack_covariance(p))


def diag(*v: float) -> list[list[float]]:
    return [[v[i] if i == j else 0.0 for j in range(6)] for i in range(6)]


NOT_PD = diag(100, 100, 100, 1, 1, 1)
NOT_PD[0][3] = NOT_PD[3][0] = 10.0001  # correlation 1.00001 between x and vx
SINGULAR = diag(100, 100, 100, 1, 1, 1)
SINGULAR[1][4] = SINGULAR[4][1] = 10.0  # correlation exactly 1
INDEFINITE = [[1.0 if i == j else 0.5 for j in range(6)] for i in range(6)]
for i in range(3):
    for j in range(3, 6):
        INDEFINITE[i][j] = INDEFINITE[j][i] = -0.9  # diagonal fine, matrix indefinite
del i, j
no_ellipse = example("track_report")
del no_ellipse["launch"]["ellipse"]
no_track_id = example("track_report")
del no_track_id["track_id"]

# (kind or prepared dict, path, value, expected field, words in the reason)
CASES = [
    ("track_report", "state_ecef[2]", "x", "state_ecef[2]", "Expected `float`"),
    ("track_report", "state_ecef[3]", NAN, "state_ecef[3]", "finite"),
    ("track_report", "state_ecef[0]", -INF, "state_ecef[0]", "finite"),
    ("track_report", "state_ecef", [1.0] * 5, "state_ecef", "length"),
    ("track_report", "covariance_ecef", [1.0] * 20, "covariance_ecef", "length"),
    ("track_report", "covariance_ecef[7]", INF, "covariance_ecef[7]", "finite"),
    ("track_report", "covariance_ecef", cov(NOT_PD), "covariance_ecef", "positive definite"),
    ("track_report", "covariance_ecef", cov(SINGULAR), "covariance_ecef", "positive definite"),
    ("track_report", "covariance_ecef", cov(INDEFINITE), "covariance_ecef", "positive definite"),
    ("track_report", "covariance_ecef", cov(diag(1, 1, 0, 1, 1, 1)), "covariance_ecef", "P[2][2]"),
    ("track_report", "covariance_ecef", cov(diag(1, 1, 1, 1, -1, 1)), "covariance_ecef", "P[4][4]"),
    ("track_report", "launch.ellipse.sigma_major_m", NAN, "launch.ellipse.sigma_major_m", ""),
    ("track_report", "launch.ellipse.sigma_minor_m", 5e3, "launch.ellipse.sigma_minor_m", "larger"),
    (
        "track_report",
        "launch.ellipse.major_azimuth_deg",
        180.0,
        "launch.ellipse.major_azimuth_deg",
        "< 180",
    ),
    ("track_report", "launch.lat_deg", 91.0, "launch.lat_deg", "<= 90"),
    ("track_report", "launch.t_sigma_s", -1.0, "launch.t_sigma_s", ">= 0"),
    ("track_report", "quality", 16, "quality", "<= 15"),
    ("track_report", "phase", "coasting", "phase", "Invalid enum"),
    ("track_report", "measured_ns", 1.5, "measured_ns", "Expected `int`"),
    ("track_report", "seq", -1, "seq", ">= 0"),
    ("track_report", "source", "XYZ", "source", "unknown node"),
    ("track_report", "source", "kor", "source", "matching regex"),
    ("track_report", "nation", "CHN", "nation", "unknown node"),
    ("track_report", "releasability", ["KOR", "KOR"], "releasability", "repeated"),
    ("track_report", "releasability", ["KOR", "ZZZ"], "releasability[1]", "unknown node"),
    ("track_report", "message_id", "abc", "message_id", "UUIDv7"),
    ("track_report", "message_id", "018cc252-1b10-4000-8505-050505050505", "message_id", "UUIDv7"),
    ("track_report", "schema_version", 2, "schema_version", "not supported"),
    ("track_report", "signature", b"\x00" * 65, "signature", "length <= 64"),
    ("track_report", "sensors", ["x"] * 65, "sensors", "length <= 64"),
    ("track_report", "extra", 1, "extra", "unknown field"),
    ("track_report", "kind", "bogus", "kind", "Invalid value"),
    (no_track_id, None, None, "track_id", "missing required field"),
    (no_ellipse, None, None, "launch.ellipse", "missing required field"),
    ("system_track", "apogee_height_m", INF, "apogee_height_m", "finite"),
    ("system_track", "sources[1].nation", "PRK", "sources[1].nation", "unknown node"),
    ("system_track", "system_track_number", 0, "system_track_number", ">= 1"),
    ("launch_event", "detecting_nations[0]", "ZZ", "detecting_nations[0]", "unknown node"),
    ("warning", "impact_polygon[4]", [40.0, 136.0], "impact_polygon", "not closed"),
    (
        "warning",
        "impact_polygon",
        [[1.0, 2.0], [3.0, 4.0], [1.0, 2.0]],
        "impact_polygon",
        "at least 4",
    ),
    ("warning", "impact_polygon[1][0]", 100.0, "impact_polygon[1][0]", "<= 90"),
    ("warning", "impact_polygon[2][1]", NAN, "impact_polygon[2][1]", ""),
    ("warning", "time_to_impact_s", 1000.0, "time_to_impact_s", "disagrees"),
    ("warning", "partner", "XX_1", "partner", "unknown node"),
    ("warning", "urgency", "Now", "urgency", "Invalid enum"),
    ("heartbeat", "peers[0].peer", "MARS", "peers[0].peer", "unknown node"),
    ("heartbeat", "peers[0].rejected", -3, "peers[0].rejected", ">= 0"),
    ("heartbeat", "uptime_s", -1.0, "uptime_s", ">= 0"),
    ("reject", "reason", "because", "reason", "Invalid enum"),
]


def _case_id(case) -> str:
    what = case[0] if isinstance(case[0], str) else "prepared"
    return f"{what}:{case[3]}:{case[4] or 'range'}"


@pytest.mark.parametrize("case", CASES, ids=[_case_id(c) for c in CASES])
def test_refusal_names_the_field(case):
    base, path, value, field, words = case
    d = example(base) if isinstance(base, str) else base
    if path is not None:
        d = setp(d, path, value)
    with pytest.raises(DecodeError) as err:
        decoder.decode(msgspec.msgpack.encode(d))
    assert err.value.field == field, err.value
    assert words in err.value.reason, err.value


def _json_representable(case) -> bool:
    value = case[2]
    return not isinstance(value, bytes) and not (
        isinstance(value, float) and not math.isfinite(value)
    )


JSON_CASES = [c for c in CASES if _json_representable(c)]


@pytest.mark.parametrize("case", JSON_CASES, ids=[_case_id(c) for c in JSON_CASES])
def test_json_refusals_name_the_same_field(case):
    base, path, value, field, _ = case
    d = example(base) if isinstance(base, str) else base
    if path is not None:
        d = setp(d, path, value)
    d["signature"] = ""  # bytes: base64 in JSON (empty here)
    with pytest.raises(DecodeError) as err:
        decoder.decode_json(json.dumps(d))
    assert err.value.field == field, err.value


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b"", "malformed MessagePack"),
        (encode(signed_examples()["heartbeat"])[:-5], "malformed MessagePack"),
        (msgspec.msgpack.encode([1, 2, 3]), "Expected `object`"),
        (msgspec.msgpack.encode({"no": "kind"}), "missing required field `kind`"),
        (b"\xc1", "malformed MessagePack"),
    ],
)
def test_unparseable_input_is_refused_as_a_whole(data, words):
    with pytest.raises(DecodeError) as err:
        decoder.decode(data)
    assert err.value.field in ("$", "kind")
    assert words in str(err.value)


def test_oversized_payload_is_refused_before_parsing():
    big = b"\xc4" + b"\x00" * (MAX_MESSAGE_BYTES + 1)
    with pytest.raises(DecodeError, match="exceeds the 65536-byte limit") as err:
        decoder.decode(big)
    assert err.value.field == "$"
    small = Decoder(NODES, max_bytes=100)
    with pytest.raises(DecodeError, match="limit"):
        small.decode(encode(signed_examples()["heartbeat"]))


def test_without_a_registry_any_well_formed_node_id_is_accepted():
    d = setp(example("track_report"), "source", "XYZ")
    assert Decoder().decode(msgspec.msgpack.encode(d)).source == "XYZ"


def test_a_newer_version_is_accepted_when_the_receiver_lists_it():
    d = setp(example("heartbeat"), "schema_version", 2)
    assert Decoder(NODES, versions=(1, 2)).decode(msgspec.msgpack.encode(d)).schema_version == 2


def test_strongly_correlated_but_valid_covariance_is_accepted():
    p = diag(1e6, 1e6, 1e6, 1e2, 1e2, 1e2)
    for i in range(3):  # rho = 0.99999 between each position and its velocity
        p[i][i + 3] = p[i + 3][i] = 0.99999 * 1e3 * 10
    d = setp(example("track_report"), "covariance_ecef", cov(p))
    assert decoder.decode(msgspec.msgpack.encode(d)).covariance_ecef == tuple(cov(p))


def test_integral_floats_sent_as_ints_decode_as_floats():
    d = setp(example("heartbeat"), "uptime_s", 7)
    assert decoder.decode(msgspec.msgpack.encode(d)).uptime_s == 7.0
