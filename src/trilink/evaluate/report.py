"""The Monte Carlo report: ``summary.json``, one self-contained ``report.html`` and PNGs.

The HTML page holds everything inline — figures as ``data:image/png;base64`` images, a
small inline stylesheet — so it can be mailed or archived as one file and opened with no
network. The same figures are written beside it as PNG files for the README and slides.
"""

from __future__ import annotations

import base64
import html
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trilink.evaluate import mc_figures as figs
from trilink.evaluate.configs import CONFIGS
from trilink.evaluate.mc_extract import TIME_FIELDS
from trilink.evaluate.mc_summary import summarise
from trilink.evaluate.montecarlo import TrialResult

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:2em auto;
max-width:1100px;color:#222;line-height:1.4}
h1{font-size:1.5em}h2{font-size:1.2em;margin-top:1.6em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:0.6em 0;font-size:0.85em}
th,td{border:1px solid #ccc;padding:0.25em 0.5em;text-align:right}
th{background:#f3f3f3}td.l,th.l{text-align:left}
img{max-width:100%;height:auto;display:block;margin:0.5em 0}
.note{color:#555;font-size:0.85em}
"""


@dataclass(frozen=True)
class ReportFiles:
    summary: Path
    html: Path
    figures: dict[str, Path]


def _fmt(v: Any, digits: int = 1) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "—"
    if isinstance(v, float):
        return f"{v:.{digits}f}"
    return html.escape(str(v))


def _img(data: bytes, alt: str) -> str:
    b64 = base64.b64encode(data).decode("ascii")
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{b64}">'


def _table(head: Sequence[str], rows: Sequence[Sequence[str]], left: int = 3) -> str:
    th = "".join(
        f'<th class="{"l" if i < left else ""}">{html.escape(h)}</th>' for i, h in enumerate(head)
    )
    body = "".join(
        "<tr>" + "".join(f'<td class="{"l" if i < left else ""}">{c}</td>' for i, c in enumerate(r)) + "</tr>"
        for r in rows
    )  # fmt: skip
    return f"<table><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>"


def headline_table(summary: Mapping[str, Any]) -> str:
    rows = [
        [
            html.escape(r["partner"]), html.escape(r["config"]), html.escape(r["class"]),
            _fmt(r["first_warning_median_s"]), _fmt(r["first_warning_p90_s"]),
            _fmt(r["warning_gained_median_s"]), _fmt(r.get("threat_alert_median_s")),
            _fmt(r.get("threat_alert_gained_median_s")), _fmt(r["impact_error_median_km"], 2),
        ]
        for r in summary["headline"]
    ]  # fmt: skip
    mark = summary["headline"][0]["impact_error_mark_s"] if summary["headline"] else None
    return _table(
        ["partner", "configuration", "class", "first warning median, s", "p90, s",
         "warning gained vs alone (median), s", "threat alert median, s",
         "threat alert gained vs alone (median), s", f"impact error at +{mark or 0:g} s (median), km"],
        rows,
    )  # fmt: skip


def times_table(summary: Mapping[str, Any]) -> str:
    rows = []
    for partner, per_config in summary["partners"].items():
        for config, per_class in per_config.items():
            for cls, s in per_class.items():
                if not s.get("n"):
                    continue
                cells = [html.escape(partner), html.escape(config), html.escape(cls), str(s["n"])]
                for f in TIME_FIELDS:
                    t = s[f]
                    cells.append(
                        f"{_fmt(t['median'])} / {_fmt(t['p90'])}"
                        + (f" ({t['never']} never)" if t["never"] else "")
                    )
                g = s.get("warning_gained_s", {})
                cells.append(f"{_fmt(g.get('median'))} / {_fmt(g.get('p90'))}" if g else "—")
                g = s.get("threat_alert_gained_s", {})
                cells.append(
                    f"{_fmt(g.get('median'))} / {_fmt(g.get('p90'))} ({g.get('both', 0)} of {g['n']} "
                    f"alerted in both: median {_fmt(g.get('both_median'))})"
                    if g
                    else "—"
                )
                rows.append(cells)
    head = ["partner", "configuration", "class", "samples", "own detection", "own track",
            "link track", "first warning", "threat alert", "warning gained",
            "threat alert gained"]  # fmt: skip
    return _table(head, rows, left=3)


def errors_table(summary: Mapping[str, Any], key: str) -> str:
    marks = [f"{m:g}" for m in summary["meta"]["marks_s"]]
    rows = []
    for partner, per_config in summary["partners"].items():
        for config, per_class in per_config.items():
            for cls, s in per_class.items():
                if not s.get("n"):
                    continue
                cells = [html.escape(partner), html.escape(config), html.escape(cls)]
                for m in marks:
                    e = s[key][m]
                    cells.append(
                        f"{_fmt(e['median'], 2)} [{_fmt(e['p05'], 2)}, {_fmt(e['p95'], 2)}]"
                        f" held {_fmt(e['held'], 2)}"
                    )
                rows.append(cells)
    return _table(["partner", "configuration", "class", *[f"+{m} s" for m in marks]], rows)


def continuity_table(summary: Mapping[str, Any]) -> str:
    rows = []
    for partner, per_config in summary["partners"].items():
        for config, per_class in per_config.items():
            lat = summary["latency_s"][partner][config]
            for cls, s in per_class.items():
                if not s.get("n"):
                    continue
                c = s["siap"]
                rows.append([
                    html.escape(partner), html.escape(config), html.escape(cls), html.escape(c["source"]),
                    _fmt(c["track_number_changes_mean"], 2), _fmt(c["longest_segment_median"], 2),
                    _fmt(c["tracked_fraction_median"], 2),
                    f"{_fmt(lat['p50'], 3)} / {_fmt(lat['p99'], 3)} (n {lat['n']})",
                ])  # fmt: skip
    head = ["partner", "configuration", "class", "tracks", "track-number changes (mean)",
            "longest segment (median)", "tracked fraction (median)", "latency p50 / p99, s"]  # fmt: skip
    return _table(head, rows, left=4)


def render_html(summary: Mapping[str, Any], images: Mapping[str, bytes]) -> str:
    meta = summary["meta"]
    j = meta["jitter"]
    configs = "".join(
        f"<li><b>{html.escape(c)}</b>: {html.escape(CONFIGS[c].description)}</li>"
        for c in meta["configs"]
    )
    missiles = ", ".join(
        f"{html.escape(m)} ({html.escape(v['class'])}, {v['flight_s']:.0f} s)"
        for m, v in meta["missiles"].items()
    )
    cpu = ", ".join(f"{c} {_fmt(v)} s" for c, v in meta.get("trial_cpu_s", {}).items())
    link = meta.get("link") or {}
    legs = (
        f" The simulated link: {_fmt(1e3 * link['latency_s'])} ms one way partner ↔ hub"
        + (
            f", plus a random extra delay of mean {_fmt(1e3 * link['latency_jitter_s'])} ms"
            " per message (exponential; each leg in order)."
            if link.get("latency_jitter_s")
            else "."
        )
        if "latency_s" in link
        else ""
    )
    fig_html = "".join(
        f"<h3>{html.escape(title)}</h3>{_img(images[name], title)}"
        for name, title in _figure_titles(images)
    )
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>trilink evaluation: {html.escape(str(meta["scenario"]))}</title>
<style>{CSS}</style></head><body>
<h1>What the link is worth — {html.escape(str(meta["scenario"]))}</h1>
<p>{meta["runs"]} seeded runs x {len(meta["configs"])} configurations ({meta["trials"]} trials);
missiles: {missiles}. Per-trial perturbations: launch time ±{_fmt(j.get("launch_time_s"))} s,
launch sites within {_fmt(j.get("site_spread_km"))} km, azimuth ±{_fmt(j.get("azimuth_spread_deg"))}°,
plus each seed's sensor noise, detections and false alarms.{legs} Configurations:</p><ul>{configs}</ul>
<p class="note">Times are seconds after the missile's launch; "p90" is the 90th percentile, with a
partner that never got there counted as infinitely late (— when over 10 % never did). Warning gained
is the extra time to impact at the first warning compared with the same seed alone; threat alert
gained the same at the first threat alert (alone, each nation runs the warning rules on its own
tracks), a partner never alerted having 0 s (so an alert only alone counts as seconds lost).
Errors are geodesic distances from the partner's picture (the tighter of its own and the link's
prediction) to the true point: median [5th, 95th percentile], and the share of samples holding a
prediction then. Method: docs/evaluation-link.md.</p>
<h2>Headline</h2>{headline_table(summary)}
<h2>Figures</h2>{fig_html}
<h2>Times (median / p90, s after launch)</h2>{times_table(summary)}
<h2>Impact-point error, km</h2>{errors_table(summary, "impact_error_km")}
<h2>Launch-point error, km</h2>{errors_table(summary, "launch_error_km")}
<h2>Track continuity (SIAP) and latency</h2>{continuity_table(summary)}
<p class="note">{meta["trials"]} trials, {_fmt(meta["cpu_s_total"])} CPU-seconds of trials
(median per trial: {html.escape(cpu)}).</p>
</body></html>
"""


def _figure_titles(images: Mapping[str, bytes]) -> list[tuple[str, str]]:
    titles = []
    for name in images:
        if name == "warning_timeline":
            titles.append((name, "Warning timelines per partner and configuration"))
        elif name == "warning_ecdf":
            titles.append((name, "First-warning time, empirical CDF"))
        elif name.startswith("impact_error_"):
            titles.append((name, f"Impact-point error against time since launch ({name[13:]})"))
        elif name == "map":
            titles.append((name, "Map"))
    return titles


def _json_default(o: Any) -> Any:
    if hasattr(o, "tolist"):
        return o.tolist()
    raise TypeError(type(o).__name__)


def write_report(
    trials: Sequence[TrialResult],
    out_dir: Path,
    *,
    summary: Mapping[str, Any] | None = None,
    map_partner: str | None = None,
    extra: Mapping[str, Any] | None = None,
) -> ReportFiles:
    """Write ``summary.json``, ``report.html`` and the figures as PNG into ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    s = dict(summary if summary is not None else summarise(trials))
    if extra:
        s["meta"] = {**s["meta"], **extra}
    images: dict[str, bytes] = {
        "warning_timeline": figs.warning_timeline(s),
        "warning_ecdf": figs.warning_ecdf(trials, s),
    }
    for cls in s["meta"]["classes"]:
        images[f"impact_error_{cls}"] = figs.impact_error_curves(trials, s, cls)
    partners = list(s["partners"])
    partner = map_partner or ("JPN" if "JPN" in partners else partners[-1])
    mark = s["meta"]["marks_s"][0] if s["meta"]["marks_s"] else 60.0
    images["map"] = figs.coverage_map(trials, partner, mark)
    paths = {}
    for name, data in images.items():
        paths[name] = out_dir / f"{name}.png"
        paths[name].write_bytes(data)
    summary_path = out_dir / "summary.json"
    summary_path.write_text(json.dumps(s, indent=2, default=_json_default) + "\n")
    html_path = out_dir / "report.html"
    html_path.write_text(render_html(s, images), encoding="utf-8")
    return ReportFiles(summary_path, html_path, paths)
