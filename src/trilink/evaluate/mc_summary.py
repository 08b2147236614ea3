"""The summary of a Monte Carlo evaluation: per partner x configuration x missile class.

Samples are (trial, missile) pairs: a salvo of three SRBMs gives three SRBM samples per
trial. For each:

* **times** (``first_own_detection_s`` ... ``first_threat_alert_s``, seconds after the
  missile's launch): median and 90th percentile, where a partner that never got there
  counts as +infinity (so a median is ``null`` when more than half never did), with the
  count of ``never``;
* **warning seconds gained** against ``alone``, from trials paired by seed (same
  missiles, same noise): time to impact at the first warning in the configuration minus
  that alone, where a partner never warned has 0 s of warning;
* **threat-alert seconds gained** (``threat_alert_gained_s``): the same, at the first
  threat alert (the warning rules run alone too, on each nation's own tracks), with the
  count of samples alerted in both (``both``) and their median (``both_median``); an
  alert in only one of the two counts the other as 0 s, so a link that rightly clears a
  threat the partner alone would have announced counts as seconds lost;
* **impact- and launch-point error** of the partner's picture at the marks (seconds
  after launch): median and the 90 % band (5th-95th percentiles) over the samples in
  which the partner held a prediction then, and the fraction that did (``held``);
* **SIAP continuity** of the tracks the partner held (received system tracks when
  linked, its own tracks alone): mean track-number changes per missile, median longest
  segment and tracked fraction of the flight;
* **latency** (receive minus measurement time of received SystemTracks): p50 and p99
  of the pooled histogram.

Quantiles are linear interpolation between order statistics (numpy's default), made
safe for +infinity (:func:`quantile`).
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from trilink.evaluate.configs import ALONE, CONFIGS
from trilink.evaluate.mc_extract import TIME_FIELDS
from trilink.evaluate.montecarlo import TrialResult

REPORT_MARKS_S = (60.0, 120.0, 180.0, 300.0)
"""Seconds after launch at which the summary states impact- and launch-point errors."""


def quantile(values: ArrayLike, q: float) -> float:
    """The q-quantile (linear between order statistics) of values that may hold +inf;
    NaN for no values."""
    v = np.sort(np.asarray(values, dtype=float).ravel())
    if v.size == 0:
        return math.nan
    h = (v.size - 1) * q
    lo, hi = math.floor(h), math.ceil(h)
    a, b, frac = float(v[lo]), float(v[hi]), h - lo
    if math.isinf(a) or (frac > 0 and math.isinf(b)):
        return math.inf  # inf - inf would give NaN in the interpolation
    return a if frac == 0 else a + (b - a) * frac


def _num(x: float, digits: int = 3) -> float | None:
    return None if not math.isfinite(x) else round(float(x), digits)


def time_stats(values: ArrayLike) -> dict[str, Any]:
    """Median and p90 with "never" (NaN) as +inf."""
    v = np.asarray(values, dtype=float)
    w = np.where(np.isnan(v), np.inf, v)
    return {
        "median": _num(quantile(w, 0.5)),
        "p90": _num(quantile(w, 0.9)),
        "n": int(v.size),
        "never": int(np.isnan(v).sum()),
    }


def band_stats(values: ArrayLike, eligible: int, scale: float = 1.0) -> dict[str, Any]:
    """Median and 5-95 % band of the finite values (scaled), and the held fraction."""
    v = np.asarray(values, dtype=float)
    f = v[np.isfinite(v)] * scale
    return {
        "median": _num(quantile(f, 0.5)),
        "p05": _num(quantile(f, 0.05)),
        "p95": _num(quantile(f, 0.95)),
        "n": int(f.size),
        "held": _num(f.size / eligible if eligible else math.nan),
    }


def histogram_quantile(hist: Mapping[int, int], q: float) -> float:
    """The q-quantile (lower order statistic) of a {value: count} histogram."""
    if not hist:
        return math.nan
    keys = np.array(sorted(hist), dtype=float)
    counts = np.array([hist[int(k)] for k in keys], dtype=float)
    cum = np.cumsum(counts)
    return float(keys[np.searchsorted(cum, q * cum[-1], side="left")])


def _mark_index(t_s: np.ndarray, mark: float) -> int | None:
    hit = np.flatnonzero(np.abs(t_s - mark) < 1e-3)
    return int(hit[0]) if hit.size else None


def _at_marks(
    samples: Sequence[Mapping[str, Any]], key: str, marks: Sequence[float]
) -> dict[str, dict[str, Any]]:
    out = {}
    for mark in marks:
        vals, eligible = [], 0
        for s in samples:
            i = _mark_index(np.asarray(s["t_s"]), mark)
            if i is None:
                continue  # the missile had fallen (or the run ended) before this mark
            eligible += 1
            vals.append(float(s[key][i]))
        out[f"{mark:g}"] = band_stats(vals, eligible, scale=1e-3)
    return out


def time_to_impact_at_warning(
    sample: Mapping[str, Any], flight_s: float, key: str = "first_warning_s"
) -> float:
    """Seconds of warning before impact (0 if never warned, or warned after impact) at the
    sample's ``key`` time (``first_warning_s``, or ``first_threat_alert_s``)."""
    w = sample[key]
    return 0.0 if not math.isfinite(w) else max(0.0, flight_s - w)


GAINED = {"warning_gained_s": "first_warning_s", "threat_alert_gained_s": "first_threat_alert_s"}
"""Each gained figure of a class summary and the time it is taken at."""


def summarise(
    trials: Iterable[TrialResult], marks_s: Sequence[float] = REPORT_MARKS_S
) -> dict[str, Any]:
    """The ``summary.json`` object (see the module docstring and docs/evaluation-link.md)."""
    trials = list(trials)
    configs = [c for c in CONFIGS if any(t.config == c for t in trials)]
    by_key = {(t.config, t.seed): t for t in trials}
    partners = list(dict.fromkeys(p for t in trials for p in t.partners))  # scenario order
    classes = sorted({m["class"] for t in trials for m in t.missiles.values()})
    out: dict[str, Any] = {"partners": {}, "latency_s": {}}
    for partner in partners:
        out["partners"][partner] = {}
        out["latency_s"][partner] = {}
        for config in configs:
            runs = [t for t in trials if t.config == config]
            per_class: dict[str, Any] = {}
            for cls in classes:
                per_class[cls] = _class_summary(runs, by_key, partner, config, cls, marks_s)
            out["partners"][partner][config] = per_class
            hist: Counter[int] = Counter()
            for t in runs:
                hist.update(t.latency_ms.get(partner, {}).get("all", {}))
            out["latency_s"][partner][config] = _latency(hist)
    first = trials[0] if trials else None
    out["meta"] = {
        "scenario": first.scenario if first else None,
        "configs": configs,
        "runs": len({t.seed for t in trials}),
        "trials": len(trials),
        "seeds": sorted({t.seed for t in trials}),
        "jitter": first.jitter if first else {},
        "link": first.extra.get("link", {}) if first else {},
        "marks_s": list(marks_s),
        "classes": classes,
        "missiles": {
            mid: {"class": m["class"], "flight_s": round(m["flight_s"], 1)}
            for mid, m in (first.missiles.items() if first else [])
        },
        "trial_wall_s": {
            c: _num(float(np.median([t.wall_s for t in trials if t.config == c])), 2)
            for c in configs
        },
        "trial_cpu_s": {
            c: _num(
                float(np.median([t.extra.get("cpu_s", np.nan) for t in trials if t.config == c])), 2
            )
            for c in configs
        },
        "cpu_s_total": _num(sum(t.extra.get("cpu_s", np.nan) for t in trials), 1),
    }
    out["headline"] = headline(out)
    return out


def _class_summary(
    runs: Sequence[TrialResult],
    by_key: Mapping[tuple[str, int], TrialResult],
    partner: str,
    config: str,
    cls: str,
    marks_s: Sequence[float],
) -> dict[str, Any]:
    samples: list[Mapping[str, Any]] = []
    gained: dict[str, list[float]] = {k: [] for k in GAINED}
    both: list[float] = []  # threat alerts gained where alerted linked and alone
    changes, longest, tracked = [], [], []
    hist: Counter[int] = Counter()
    source = "own" if config == ALONE else "link"
    for t in runs:
        hist.update(t.latency_ms.get(partner, {}).get(cls, {}))
        for mid, info in t.missiles.items():
            if info["class"] != cls or mid not in t.partners.get(partner, {}):
                continue
            s = t.partners[partner][mid]
            samples.append(s)
            alone = by_key.get((ALONE, t.seed))
            if config != ALONE and alone is not None and mid in alone.partners.get(partner, {}):
                a, a_flight = alone.partners[partner][mid], alone.missiles[mid]["flight_s"]
                for name, key in GAINED.items():
                    gained[name].append(
                        time_to_impact_at_warning(s, info["flight_s"], key)
                        - time_to_impact_at_warning(a, a_flight, key)
                    )
                if all(math.isfinite(x["first_threat_alert_s"]) for x in (s, a)):
                    both.append(gained["threat_alert_gained_s"][-1])
            c = t.siap.get(partner, {}).get(source, {}).get("missiles", {}).get(mid)
            if c is not None:
                changes.append(c["track_number_changes"])
                longest.append(c["longest_segment"])
                tracked.append(c["tracked_fraction"])
    if not samples:
        return {"n": 0}
    out: dict[str, Any] = {"n": len(samples)}
    for f in TIME_FIELDS:
        out[f] = time_stats([s[f] for s in samples])
    for name, values in gained.items():
        if values:
            g = np.asarray(values)
            out[name] = {
                "median": _num(quantile(g, 0.5)), "p10": _num(quantile(g, 0.1)),
                "p90": _num(quantile(g, 0.9)), "n": int(g.size),
            }  # fmt: skip
    if gained["threat_alert_gained_s"]:
        out["threat_alert_gained_s"]["both"] = len(both)
        out["threat_alert_gained_s"]["both_median"] = _num(quantile(both, 0.5)) if both else None
    out["impact_error_km"] = _at_marks(samples, "impact_err_m_picture", marks_s)
    out["launch_error_km"] = _at_marks(samples, "launch_err_m_picture", marks_s)
    out["siap"] = {
        "source": source,
        "track_number_changes_mean": _num(float(np.mean(changes))) if changes else None,
        "longest_segment_median": _num(quantile(longest, 0.5)) if longest else None,
        "tracked_fraction_median": _num(quantile(tracked, 0.5)) if tracked else None,
    }
    out["latency_s"] = _latency(hist)
    return out


def _latency(hist: Mapping[int, int]) -> dict[str, Any]:
    n = int(sum(hist.values()))
    return {
        "p50": _num(histogram_quantile(hist, 0.5) / 1e3),
        "p99": _num(histogram_quantile(hist, 0.99) / 1e3),
        "n": n,
    }


def headline(summary: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One row per partner x configuration x class: the figures a reader wants first."""
    rows = []
    mark = f"{summary['meta']['marks_s'][1]:g}" if len(summary["meta"]["marks_s"]) > 1 else None
    for partner, per_config in summary["partners"].items():
        for config, per_class in per_config.items():
            for cls, s in per_class.items():
                if not s.get("n"):
                    continue
                rows.append(
                    {
                        "partner": partner, "config": config, "class": cls,
                        "first_warning_median_s": s["first_warning_s"]["median"],
                        "first_warning_p90_s": s["first_warning_s"]["p90"],
                        "warning_gained_median_s": s.get("warning_gained_s", {}).get("median"),
                        "threat_alert_median_s": s["first_threat_alert_s"]["median"],
                        "threat_alert_gained_median_s": s.get("threat_alert_gained_s", {}).get("median"),
                        "impact_error_mark_s": float(mark) if mark else None,
                        "impact_error_median_km": s["impact_error_km"][mark]["median"] if mark else None,
                    }
                )  # fmt: skip
    return rows


def group_samples(
    trials: Iterable[TrialResult],
) -> dict[tuple[str, str, str], list[Mapping[str, Any]]]:
    """(partner, config, class) -> the per-missile samples (for the report's figures)."""
    out: dict[tuple[str, str, str], list[Mapping[str, Any]]] = defaultdict(list)
    for t in trials:
        for partner, per in t.partners.items():
            for mid, s in per.items():
                out[(partner, t.config, t.missiles[mid]["class"])].append(s)
    return out
