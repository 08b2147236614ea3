"""Warnings for partners and exports for operators' tools.

- territory: each partner's land, 12-nm territorial sea and 200-nm zone, built at set-up
  time from Natural Earth (npm ``world-atlas``) by ``scripts/build_geodata.py``;
- rules and state: who is warned of what, and when an Alert, Update or Cancel is sent;
- CAP 1.2 for warnings, Cursor on Target for TAK, CZML / GeoJSON / KML for a recorded run.

Angles in radians and lengths in metres in every function; degrees only inside files.
"""

from trilink.alerts.adapters import threat_from_system_track, warning_fields
from trilink.alerts.cap import to_cap, to_cap_document
from trilink.alerts.cot import cot_events, impact_ellipse_cot, stream_cot, to_cot
from trilink.alerts.czml import czml_packets, to_czml
from trilink.alerts.ellipse import K95, ellipse_from_covariance, ellipse_ring
from trilink.alerts.exports import cap_files, export
from trilink.alerts.features import geojson_features, to_geojson, to_kml
from trilink.alerts.records import TrackRecord
from trilink.alerts.rules import Assessment, ImpactPrediction, ThreatInput, WarningRules, assess
from trilink.alerts.state import MessageRef, WarningEvent, WarningState, run_warnings
from trilink.alerts.territory import Territory, load_territories, load_territory

__all__ = [
    "K95",
    "Assessment",
    "ImpactPrediction",
    "MessageRef",
    "Territory",
    "ThreatInput",
    "TrackRecord",
    "WarningEvent",
    "WarningRules",
    "WarningState",
    "assess",
    "cap_files",
    "cot_events",
    "czml_packets",
    "ellipse_from_covariance",
    "ellipse_ring",
    "export",
    "geojson_features",
    "impact_ellipse_cot",
    "load_territories",
    "load_territory",
    "run_warnings",
    "stream_cot",
    "threat_from_system_track",
    "to_cap",
    "to_cap_document",
    "to_cot",
    "to_czml",
    "to_geojson",
    "to_kml",
    "warning_fields",
]
