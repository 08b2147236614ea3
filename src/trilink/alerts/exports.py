"""One entry point per export format, for ``trilink export DIR --format ... --out FILE``.

The CLI reads a recorded run into :class:`~trilink.alerts.rules.ThreatInput` values (one
per system-track report received by a partner, in time order) and calls :func:`export`.
CAP warnings are separate documents by nature (one alert per file, as feeds serve them):
:func:`cap_files` names them by identifier for a directory.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from trilink.alerts.cap import to_cap_document
from trilink.alerts.cot import cot_events
from trilink.alerts.czml import to_czml
from trilink.alerts.features import to_geojson, to_kml
from trilink.alerts.records import TrackRecord
from trilink.alerts.rules import ThreatInput, WarningRules
from trilink.alerts.state import WarningEvent, run_warnings
from trilink.alerts.territory import Territory

FORMATS = ("czml", "geojson", "kml", "cot", "cap")


def records_of(threats: Iterable[ThreatInput]) -> list[TrackRecord]:
    """Track records of the inputs that carry a position."""
    return [TrackRecord.from_threat(t) for t in threats if t.r_ecef_m is not None]


def export(fmt: str, threats: Sequence[ThreatInput], name: str = "trilink run") -> str:
    """Text of a whole-run export: ``czml``, ``geojson``, ``kml`` or ``cot``.

    ``cot`` gives the events one per line (track and impact-ellipse events in time
    order), the form ``trilink cot`` streams and TAK tools replay.
    """
    if fmt == "czml":
        return to_czml(records_of(threats), name=name)
    if fmt == "geojson":
        return to_geojson(records_of(threats))
    if fmt == "kml":
        return to_kml(records_of(threats), name=name)
    if fmt == "cot":
        ordered = sorted((t for t in threats if t.r_ecef_m is not None), key=lambda t: t.t_ns)
        return "\n".join(e for t in ordered for e in cot_events(t)) + "\n"
    if fmt == "cap":
        raise ValueError("CAP warnings are one document each: use cap_files()")
    raise ValueError(f"unknown export format {fmt!r}; choose from {', '.join(FORMATS)}")


def cap_files(
    threats: Sequence[ThreatInput],
    territory: Territory,
    rules: WarningRules = WarningRules(),
    end_t_ns: int | None = None,
    **cap_options,
) -> list[tuple[str, bytes]]:
    """``(file name, CAP XML)`` for every warning the partner of ``territory`` would get."""
    events: list[WarningEvent] = run_warnings(threats, territory, rules, end_t_ns=end_t_ns)
    return [(f"{e.identifier}.xml", to_cap_document(e, **cap_options)) for e in events]
