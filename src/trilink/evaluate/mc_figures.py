"""The report's figures (matplotlib, Agg, no pyplot state): each function returns PNG bytes.

* :func:`warning_timeline` — per partner, one bar per configuration and missile class:
  median time of first own detection, first link track, first warning and first threat
  alert after launch, the first warning with its 90th-percentile whisker;
* :func:`warning_ecdf` — per partner, the empirical CDF of the first-warning time per
  configuration (the share of samples warned by t);
* :func:`impact_error_curves` — per partner, impact-point error of its picture against
  time since launch: median and 90 % band (5th-95th percentiles) per configuration;
* :func:`coverage_map` — lon/lat map: Natural Earth land and 200-nm zones (the alerts
  room's build-time territory files), launch points, ground tracks, true impact points
  and 95 % impact ellipses of one partner's picture at one time since launch, with an
  inset on the impact area.
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from numpy.typing import NDArray

from trilink.errors import GeodataMissing
from trilink.evaluate.mc_summary import group_samples, quantile
from trilink.evaluate.montecarlo import TrialResult

COLORS = {"alone": "#7f7f7f", "bilateral": "#1f77b4", "trilateral": "#d62728"}
K95 = math.sqrt(-2.0 * math.log(0.05))
"""Scale from a 1-sigma to a 95 % ellipse of a 2-D Gaussian (sqrt of chi-square_2 at 0.95)."""
EARTH_R_M = 6_371_000.0  # only to draw ellipses in degrees; errors are computed on WGS84


def png(fig: Figure, dpi: int = 110) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    return buf.getvalue()


def _partners(summary: Mapping[str, Any]) -> list[str]:
    return list(summary["partners"])


def warning_timeline(summary: Mapping[str, Any]) -> bytes:
    partners = _partners(summary)
    configs = summary["meta"]["configs"]
    classes = summary["meta"]["classes"]
    rows = len(configs) * len(classes)
    fig = Figure(figsize=(9, 1.0 + 0.45 * rows * len(partners)))
    axes = fig.subplots(len(partners), 1, sharex=True, squeeze=False)[:, 0]
    marks = (
        ("first_own_detection_s", "o", "own detection"),
        ("first_link_track_s", "^", "link track"),
        ("first_threat_alert_s", "*", "threat alert"),
    )
    for ax, partner in zip(axes, partners, strict=True):
        labels = []
        for k, (config, cls) in enumerate((c, k) for c in configs for k in classes):
            s = summary["partners"][partner][config].get(cls, {})
            labels.append(f"{config} · {cls}")
            if not s.get("n"):
                continue
            w = s["first_warning_s"]
            if w["median"] is not None:
                ax.barh(k, w["median"], color=COLORS.get(config, "k"), alpha=0.55, height=0.6)
                if w["p90"] is not None:
                    ax.plot([w["median"], w["p90"]], [k, k], color="k", lw=1)
                    ax.plot([w["p90"]], [k], "k|", ms=10)
            for key, marker, _ in marks:
                m = s[key]["median"]
                if m is not None:
                    ax.plot(
                        [m], [k], marker, color="k", ms=6, mfc="white" if marker == "o" else "k"
                    )
        ax.set_yticks(range(len(labels)), labels, fontsize=8)
        ax.invert_yaxis()
        ax.set_title(
            f"{partner}: first warning (bar: median, whisker: 90th percentile)", fontsize=9
        )
        ax.grid(axis="x", alpha=0.3)
    handles = [
        axes[0].plot([], [], marker, color="k", mfc="white" if marker == "o" else "k")[0]
        for _, marker, _ in marks
    ]
    fig.legend(handles, [f"{label} (median)" for _, _, label in marks], loc="upper center",
               ncol=3, fontsize=8, bbox_to_anchor=(0.5, 1.0), frameon=False)  # fmt: skip
    fig.subplots_adjust(top=1 - 0.5 / fig.get_figheight())
    axes[-1].set_xlabel("seconds after launch")
    return png(fig)


def _ecdf(values: Sequence[float]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    v = np.asarray(values, dtype=float)
    n = v.size
    f = np.sort(v[np.isfinite(v)])
    return f, np.arange(1, f.size + 1) / max(n, 1)


def warning_ecdf(trials: Sequence[TrialResult], summary: Mapping[str, Any]) -> bytes:
    partners = _partners(summary)
    groups = group_samples(trials)
    fig = Figure(figsize=(4.0 * len(partners), 3.4))
    axes = fig.subplots(1, len(partners), sharey=True, squeeze=False)[0]
    styles = ["-", "--", ":", "-."]
    for ax, partner in zip(axes, partners, strict=True):
        for config in summary["meta"]["configs"]:
            for k, cls in enumerate(summary["meta"]["classes"]):
                samples = groups.get((partner, config, cls), [])
                if not samples:
                    continue
                x, y = _ecdf([s["first_warning_s"] for s in samples])
                if x.size:
                    ax.step(np.r_[0, x], np.r_[0, y], where="post", color=COLORS.get(config, "k"),
                            ls=styles[k % len(styles)], label=f"{config} · {cls}")  # fmt: skip
        ax.set_title(partner, fontsize=10)
        ax.set_xlabel("first warning, s after launch")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("share of samples warned")
    if axes[0].get_legend_handles_labels()[0]:
        axes[0].legend(fontsize=7, loc="lower right")
    return png(fig)


def _curve(samples: Sequence[Mapping[str, Any]], key: str) -> tuple[NDArray[np.float64], ...]:
    """Median and 5/95 % of a per-mark series across samples (marks are a shared grid)."""
    longest = max(samples, key=lambda s: len(s["t_s"]))
    t = np.asarray(longest["t_s"], dtype=float)
    stack = np.full((len(samples), t.size), np.nan)
    for i, s in enumerate(samples):
        v = np.asarray(s[key], dtype=float)
        stack[i, : v.size] = v
    med, lo, hi = (np.full(t.size, np.nan) for _ in range(3))
    for j in range(t.size):
        col = stack[:, j][np.isfinite(stack[:, j])]
        if col.size:
            med[j], lo[j], hi[j] = (quantile(col, q) for q in (0.5, 0.05, 0.95))
    return t, med, lo, hi


def impact_error_curves(
    trials: Sequence[TrialResult], summary: Mapping[str, Any], cls: str
) -> bytes:
    partners = _partners(summary)
    groups = group_samples(trials)
    fig = Figure(figsize=(4.0 * len(partners), 3.4))
    axes = fig.subplots(1, len(partners), sharey=True, squeeze=False)[0]
    for ax, partner in zip(axes, partners, strict=True):
        plotted = False
        for config in summary["meta"]["configs"]:
            samples = groups.get((partner, config, cls), [])
            if not samples:
                continue
            t, med, lo, hi = _curve(samples, "impact_err_m_picture")
            if not (np.isfinite(med) & (med > 0)).any():
                continue
            c = COLORS.get(config, "k")
            ax.fill_between(t, lo / 1e3, hi / 1e3, color=c, alpha=0.15, lw=0)
            ax.plot(t, med / 1e3, color=c, label=config)
            plotted = True
        if plotted:  # a log axis with nothing on it cannot be drawn
            ax.set_yscale("log")
        else:
            ax.text(0.5, 0.5, "no impact prediction held", ha="center", transform=ax.transAxes)
        ax.set_title(f"{partner} · {cls}", fontsize=10)
        ax.set_xlabel("time since launch, s")
        ax.grid(alpha=0.3, which="both")
    axes[0].set_ylabel("impact-point error, km (median, 90 % band)")
    if axes[0].get_legend_handles_labels()[0]:
        axes[0].legend(fontsize=8)
    return png(fig)


def ellipse_lonlat(row: Sequence[float], k: float = K95, n: int = 72) -> NDArray[np.float64]:
    """(n, 2) lon/lat degrees of the ellipse of a ``[lat, lon, major, minor, az]`` row
    (radians, metres, 1-sigma), scaled by ``k``, on a local sphere (a drawing aid)."""
    lat, lon, a, b, az = (float(v) for v in row[:5])
    t = np.linspace(0, 2 * np.pi, n)
    north = k * (a * np.cos(t) * np.cos(az) - b * np.sin(t) * np.sin(az))
    east = k * (a * np.cos(t) * np.sin(az) + b * np.sin(t) * np.cos(az))
    dlat = np.degrees(north / EARTH_R_M)
    dlon = np.degrees(east / (EARTH_R_M * math.cos(lat)))
    return np.stack([math.degrees(lon) + dlon, math.degrees(lat) + dlat], axis=-1)


def _land(ax: Axes, box: tuple[float, float, float, float]) -> bool:
    from trilink.alerts.territory import geodata_manifest, load_territory

    try:
        nations = list(geodata_manifest().get("nations", {}))
        shapes = [load_territory(n) for n in nations]
    except (GeodataMissing, OSError):  # a map without land is still a map
        return False
    styles: tuple[tuple[str, dict[str, Any]], ...] = (
        ("zone", {"fc": "none", "ec": "#9ecae1", "lw": 0.6, "ls": "--"}),
        ("land", {"fc": "#e8e4d8", "ec": "#8c8c8c", "lw": 0.5}),
    )
    for terr in shapes:
        for kind, kw in styles:
            geom = getattr(terr, kind)
            polys = getattr(geom, "geoms", [geom])
            for p in polys:
                if p.is_empty or not hasattr(p, "exterior"):
                    continue
                x, y = p.exterior.xy
                x = np.asarray(x)
                if x.max() < box[0] - 5 or x.min() > box[1] + 5:
                    continue
                ax.fill(x, np.asarray(y), **kw)
    return True


def coverage_map(
    trials: Sequence[TrialResult], partner: str, mark_s: float, max_tracks: int = 30
) -> bytes:
    """The map (see the module docstring); ellipses of ``partner``'s picture at ``mark_s``."""
    fig = Figure(figsize=(9, 7))
    ax = fig.add_subplot()
    pts = np.array(
        [p for t in trials for m in t.missiles.values() for p in (m["launch_deg"], m["impact_deg"])]
    )
    tracks = [m["ground_track_deg"] for t in trials for m in t.missiles.values()]
    allpts = np.concatenate([pts, *tracks]) if tracks else pts
    box = (
        allpts[:, 1].min() - 4,
        allpts[:, 1].max() + 4,
        allpts[:, 0].min() - 4,
        allpts[:, 0].max() + 4,
    )
    has_land = _land(ax, box)
    seen: set[str] = set()
    for t in trials[: max_tracks * 3]:
        for m in t.missiles.values():
            g = np.asarray(m["ground_track_deg"])
            ax.plot(g[:, 1], g[:, 0], color="#ff7f0e", lw=0.6, alpha=0.5)
    launch = np.array([m["launch_deg"] for t in trials for m in t.missiles.values()])
    impact = np.array([m["impact_deg"] for t in trials for m in t.missiles.values()])
    ax.plot(launch[:, 1], launch[:, 0], "k^", ms=4, label="launch points")
    ax.plot(impact[:, 1], impact[:, 0], "kx", ms=5, label="true impact points")
    inset = ax.inset_axes((0.62, 0.02, 0.36, 0.36))
    inset.plot(impact[:, 1], impact[:, 0], "kx", ms=5)
    for t in trials:
        for mid in t.missiles:
            s = t.partners.get(partner, {}).get(mid)
            if s is None:
                continue
            i = np.flatnonzero(np.abs(np.asarray(s["t_s"]) - mark_s) < 1e-3)
            if not i.size or not np.isfinite(s["impact_picture"][i[0], 0]):
                continue
            e = ellipse_lonlat(s["impact_picture"][i[0]])
            c = COLORS.get(t.config, "k")
            label = (
                None if t.config in seen else f"{partner} {t.config}: 95 % ellipse at +{mark_s:g} s"
            )
            seen.add(t.config)
            for a in (ax, inset):
                a.plot(
                    e[:, 0], e[:, 1], color=c, lw=0.8, alpha=0.7, label=label if a is ax else None
                )
    pad = 0.5
    inset.set_xlim(impact[:, 1].min() - pad, impact[:, 1].max() + pad)
    inset.set_ylim(impact[:, 0].min() - pad, impact[:, 0].max() + pad)
    inset.set_aspect(1 / math.cos(math.radians(float(impact[:, 0].mean()))))
    inset.tick_params(labelsize=6)
    inset.set_title("impact area", fontsize=7)
    ax.set_xlim(box[0], box[1])
    ax.set_ylim(box[2], box[3])
    ax.set_aspect(1 / math.cos(math.radians((box[2] + box[3]) / 2)))
    ax.set_xlabel("longitude, deg E")
    ax.set_ylabel("latitude, deg N")
    land = (
        "Natural Earth land and 200-nm zones"
        if has_land
        else "no land data (territory files not built)"
    )
    ax.set_title(f"Launches, ground tracks and impact ellipses ({land})", fontsize=9)
    ax.legend(fontsize=7, loc="upper left")
    ax.grid(alpha=0.2)
    return png(fig)
