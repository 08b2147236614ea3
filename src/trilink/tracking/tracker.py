"""The national tracker: one track table, fed scan by scan, in time order.

:class:`NationalTracker` holds the track table as stacked arrays (IMM states (N, 2, 8),
covariances (N, 2, 8, 8), model probabilities (N, 2) and bookkeeping (N,)). For each
scan (all detections of one sensor at one time) it:

1. predicts every track to the scan time (one batched IMM time update);
2. deletes confirmed tracks that coasted too long, whose position sigma grew past a
   limit, or that are predicted under the ground (impacted);
3. gates and assigns all tracks x detections at once (:mod:`.association`);
4. updates the assigned tracks (one batched IMM measurement update);
5. counts hits and opportunities for M-of-N confirmation: a scan is an opportunity for
   a track only if that sensor has detected it before (a radar that never saw a target
   does not count against it);
6. starts tentative tracks at radar detections that no track took and that lie outside
   every confirmed track's gate (infrared angles start nothing: see :mod:`.initiation`);
7. merges confirmed tracks that have become the same object (the younger one goes).

Management rules: Blackman & Popoli (1999), ch. 6 and 7 (M-of-N, score-free GNN).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from numpy.typing import NDArray

from trilink.tracking.association import (
    assign,
    gate_threshold,
)
from trilink.tracking.config import TrackerConfig
from trilink.tracking.dynamics import IA, IK, NX
from trilink.tracking.filters import Measurement
from trilink.tracking.imm import N_MODELS, combine, p_boost
from trilink.tracking.initiation import initiate
from trilink.tracking.jit import warm_up
from trilink.tracking.management import (
    PHASES,
    Counts,
    phase_of,
    predict_and_gate,
    snapshot,
    stale,
    update_and_count,
    younger_duplicates,
)
from trilink.tracking.prediction import PointPrediction, Predictions, predict_points
from trilink.tracking.records import (
    CONFIRMED,
    TENTATIVE,
    DetectionBatch,
    GroundPoint,
    TrackEstimate,
    TrackHistory,
    ground_points,
)

Array = NDArray[np.float64]


class NationalTracker:
    """Multi-sensor, multi-target tracker of one nation (the one stateful object here)."""

    def __init__(self, nation: str, config: TrackerConfig | None = None) -> None:
        self.nation = nation
        self.cfg = config or TrackerConfig()
        # the ballistic/boost IMM keeps two models per track, the CV option one
        self.n_models = 1 if self.cfg.motion == "cv" else N_MODELS
        warm_up(self.cfg.motion)  # compile or load the kernels now, not at the first scan
        self.t_ns: int | None = None
        self.late_scans = 0  # scans older than the table (out of sequence), not used
        self._next_id = 1
        self._sensors: dict[str, int] = {}
        self._rows: list[dict[str, object]] = []
        self.record = False
        self._alloc(0)

    # --- the track table ---------------------------------------------------------------
    def _alloc(self, n: int) -> None:
        self.x = np.zeros((n, self.n_models, NX))
        self.P = np.zeros((n, self.n_models, NX, NX))
        self.mu = np.zeros((n, self.n_models))
        self.ids = np.zeros(n, dtype=np.int64)
        self.confirmed = np.zeros(n, dtype=bool)
        self.hits = np.zeros(n, dtype=np.int64)
        self.opps = np.zeros(n, dtype=np.int64)
        self.t_hit = np.zeros(n, dtype=np.int64)  # time of the last detection
        self.t_trk = np.zeros(n, dtype=np.int64)  # time of each track's state
        self.watch = np.zeros((n, max(1, len(self._sensors))), dtype=bool)
        self.burnout_h = np.full(n, np.nan)
        self.nis = np.full(n, np.nan)

    _FIELDS = (
        "x",
        "P",
        "mu",
        "ids",
        "confirmed",
        "hits",
        "opps",
        "t_hit",
        "t_trk",
        "watch",
        "burnout_h",
        "nis",
    )

    def _keep(self, keep: NDArray[np.bool_]) -> None:
        for f in self._FIELDS:
            setattr(self, f, getattr(self, f)[keep])

    def _append(self, other: dict[str, np.ndarray]) -> None:
        for f in self._FIELDS:
            setattr(self, f, np.concatenate([getattr(self, f), other[f]]))

    def __len__(self) -> int:
        return int(self.ids.shape[0])

    def _sensor_column(self, sensor_id: str) -> int:
        if sensor_id not in self._sensors:
            self._sensors[sensor_id] = len(self._sensors)
            if len(self._sensors) > self.watch.shape[1]:
                pad = np.zeros((len(self), len(self._sensors) - self.watch.shape[1]), dtype=bool)
                self.watch = np.concatenate([self.watch, pad], axis=1)
        return self._sensors[sensor_id]

    # --- processing --------------------------------------------------------------------
    def process(self, det: DetectionBatch) -> None:
        """Take one sensor's detections (any number of scans, in time order)."""
        t_all = np.asarray(det.t_ns, dtype=np.int64)
        if t_all.size and t_all[0] == t_all[-1] and (t_all == t_all[0]).all():
            # one scan (how the nodes deliver them): no grouping needed
            self._scan(det, int(t_all[0]), np.asarray(det.z), np.asarray(det.R))
            return
        for t in np.unique(t_all):
            sel = np.flatnonzero(t_all == t)
            self._scan(det, int(t), np.asarray(det.z)[sel], np.asarray(det.R)[sel])

    def _scan(self, det: DetectionBatch, t: int, z: Array, R: Array) -> None:
        cfg = self.cfg
        if self.t_ns is not None and t < self.t_ns:
            self.late_scans += 1
            return
        self.t_ns = t
        self._delete_stale(t)
        meas = Measurement(
            det.kind, np.asarray(det.sensor_ecef_m, float), np.asarray(det.rot, float)
        )
        col = self._sensor_column(det.sensor_id)
        # (in place: the table is this object's own; the calls return its arrays)
        cand, self.x, self.P, self.mu, self.t_trk, d2, cost = predict_and_gate(
            self.x, self.P, self.mu, self.t_trk, t, z, R, meas, cfg, in_place=True
        )
        ci, di = assign(d2, cost, gate_threshold(cfg.gate_probability, meas.dim))
        ti = cand[ci]
        counts = Counts(
            self.nis, self.t_hit, self.hits, self.burnout_h, self.watch, self.opps,
            self.confirmed,
        )  # fmt: skip
        self.x, self.P, self.mu, counts, failed, free = update_and_count(
            self.x, self.P, self.mu, counts, cand, (ci, di), d2, z, R, meas, t, col, cfg,
            in_place=True,
        )  # fmt: skip
        c = counts
        self.nis, self.t_hit, self.hits, self.burnout_h = c.nis, c.t_hit, c.hits, c.burnout_h
        self.watch, self.opps, self.confirmed = c.watch, c.opps, c.confirmed
        if self.record and ti.size:
            self._record_rows(ti[~failed[ti]], det.sensor_id)
        if failed.any():
            self._keep(~failed)
            cand = np.flatnonzero(np.isin(np.arange(failed.size), cand)[~failed])

        if free.any():
            self._start(z[free], R[free], meas, t, col)
        self._merge_duplicates(cand)

    def _start(self, z: Array, R: Array, meas: Measurement, t: int, col: int) -> None:
        x, P, mu = initiate(z, R, meas, self.cfg)
        if self.n_models == 1:  # CV: the ballistic model's start (zero thrust), mu = 1
            x, P, mu = x[:, :1], P[:, :1], np.ones((z.shape[0], 1))
        d = z.shape[0]
        ids = np.arange(self._next_id, self._next_id + d, dtype=np.int64)
        self._next_id += d
        watch = np.zeros((d, self.watch.shape[1]), dtype=bool)
        watch[:, col] = True
        new = {
            "x": x, "P": P, "mu": mu, "ids": ids,
            "confirmed": np.zeros(d, dtype=bool), "hits": np.ones(d, dtype=np.int64),
            "opps": np.ones(d, dtype=np.int64), "t_hit": np.full(d, t, dtype=np.int64),
            "t_trk": np.full(d, t, dtype=np.int64),
            "watch": watch, "burnout_h": np.full(d, np.nan), "nis": np.full(d, np.nan),
        }  # fmt: skip
        self._append(new)

    def _delete_stale(self, t: int) -> None:
        if not len(self):
            return
        dead = stale(self.x, self.P, self.mu, self.t_hit, self.confirmed, t, self.cfg)
        if dead.any():
            self._keep(~dead)

    def _merge_duplicates(self, cand: NDArray[np.intp]) -> None:
        conf = cand[self.confirmed[cand]]
        if conf.size < 2:
            return
        drop = younger_duplicates(self.x, self.P, self.mu, conf, self.ids, self.cfg.duplicate_gate)
        if drop.any():
            keep = np.ones(len(self), dtype=bool)
            keep[conf[drop]] = False
            self._keep(keep)

    # --- output ------------------------------------------------------------------------
    def _record_rows(self, rows: NDArray[np.intp], sensor_id: str) -> None:
        rows = np.sort(rows)
        xc, Pc = combine(self.x[rows], self.P[rows], self.mu[rows])
        self._rows.append(
            {
                "t_ns": np.full(rows.size, self.t_ns, dtype=np.int64),
                "track_id": self.ids[rows].copy(),
                "sensor_id": np.full(rows.size, sensor_id),
                "confirmed": self.confirmed[rows].copy(),
                "p_boost": p_boost(self.mu[rows]),
                "x8": xc,
                "P8": Pc,
                "nis": self.nis[rows].copy(),
                "burnout_h": self.burnout_h[rows].copy(),
            }
        )

    def history(self, predictions: bool = True, chunk: int = 1024) -> TrackHistory:
        """Everything recorded so far (``record`` must have been on) as a TrackHistory."""
        rows = self._rows
        if rows:
            cat = {k: np.concatenate([r[k] for r in rows]) for k in rows[0]}
        else:
            cat = {
                "t_ns": np.zeros(0, np.int64), "track_id": np.zeros(0, np.int64),
                "sensor_id": np.zeros(0, str), "confirmed": np.zeros(0, bool),
                "p_boost": np.zeros(0), "x8": np.zeros((0, NX)), "P8": np.zeros((0, NX, NX)),
                "nis": np.zeros(0), "burnout_h": np.zeros(0),
            }  # fmt: skip
        k = cat["t_ns"].shape[0]
        x8, P8, p_boost = cat["x8"], cat["P8"], cat["p_boost"]
        pred = empty_predictions(k)
        conf = np.flatnonzero(cat["confirmed"])
        if predictions and conf.size:
            for lo in range(0, conf.size, chunk):
                sel = conf[lo : lo + chunk]
                part = predict_points(
                    x8[sel], P8[sel], cat["t_ns"][sel], p_boost[sel] > 0.5,
                    cat["burnout_h"][sel], self.cfg,
                )  # fmt: skip
                _scatter(pred, part, sel)
        return TrackHistory(
            nation=self.nation,
            t_ns=cat["t_ns"],
            track_id=cat["track_id"],
            sensor_id=cat["sensor_id"].astype(str),
            status=np.where(cat["confirmed"], CONFIRMED, TENTATIVE),
            phase=phase_of(x8, p_boost),
            p_boost=p_boost,
            x=x8[:, 0:6],
            P=P8[:, 0:6, 0:6],
            thrust_mps2=x8[:, IA],
            kappa_m2pkg=x8[:, IK],
            nis=cat["nis"],
            predictions=pred,
        )

    def tracks(self, predictions: bool | Iterable[int] = True) -> list[TrackEstimate]:
        """Snapshot of every track predicted to the table's time (the last scan; the table
        itself is not changed), with impact/launch predictions for confirmed tracks.

        ``predictions``: True for every confirmed track, False for none, or an iterable
        of track ids: only those confirmed tracks get predictions (the others report
        None/NaN), e.g. the tracks a node is about to report because they were updated.
        """
        if not len(self) or self.t_ns is None:
            return []
        xc, Pc, codes = snapshot(self.x, self.P, self.mu, self.t_trk, self.t_ns, self.cfg)
        pb = p_boost(self.mu)
        phase = PHASES[codes]
        pred = None
        conf = np.flatnonzero(self.confirmed)
        if isinstance(predictions, bool | np.bool_):
            conf = conf if predictions else conf[:0]
        else:
            wanted = {int(i) for i in predictions}
            conf = conf[[i in wanted for i in self.ids[conf].tolist()]]
        if conf.size:
            pred = predict_points(
                xc[conf], Pc[conf], np.full(conf.size, self.t_ns, dtype=np.int64),
                pb[conf] > 0.5, self.burnout_h[conf], self.cfg,
            )  # fmt: skip
        points: dict[int, tuple[GroundPoint | None, GroundPoint | None, float, float]] = {}
        if pred is not None:
            impacts, launches = ground_points(pred.impact), ground_points(pred.launch)
            apo, apo_s = pred.apogee_m.tolist(), pred.apogee_sigma_m.tolist()
            for k, i in enumerate(conf.tolist()):
                points[i] = (impacts[k], launches[k], apo[k], apo_s[k])
        none = (None, None, float("nan"), float("nan"))
        names = sorted(self._sensors, key=self._sensors.__getitem__)
        watch = self.watch[:, : len(names)].tolist()
        ids, hits, pbl = self.ids.tolist(), self.hits.tolist(), pb.tolist()
        status = np.where(self.confirmed, CONFIRMED, TENTATIVE).tolist()
        thrust, kappa, phases = xc[:, IA].tolist(), xc[:, IK].tolist(), phase.tolist()
        x6, P6 = xc[:, 0:6], Pc[:, 0:6, 0:6]
        t_now = int(self.t_ns or 0)
        out = []
        for i in range(len(self)):
            impact, launch, a, a_s = points.get(i, none)
            out.append(
                TrackEstimate(
                    ids[i],
                    t_now,
                    status[i],
                    phases[i],
                    pbl[i],
                    x6[i].copy(),
                    P6[i].copy(),
                    thrust[i],
                    kappa[i],
                    impact,
                    launch,
                    a,
                    a_s,
                    n_updates=hits[i],
                    sensors=tuple(n for n, w in zip(names, watch[i], strict=True) if w),
                )
            )
        return out


def _scatter(dst: Predictions, src: Predictions, sel: NDArray[np.intp]) -> None:
    """Write the rows of ``src`` into rows ``sel`` of ``dst`` (arrays are filled in place;
    ``dst`` was made by :func:`empty_predictions` for this purpose)."""
    for name in ("impact", "launch"):
        a, b = getattr(dst, name), getattr(src, name)
        for f in ("lat_rad", "lon_rad", "semi_major_m", "semi_minor_m", "orientation_rad",
                  "cov_en_m2", "t_ns", "t_sigma_s", "valid"):  # fmt: skip
            getattr(a, f)[sel] = getattr(b, f)
    dst.apogee_m[sel] = src.apogee_m
    dst.apogee_sigma_m[sel] = src.apogee_sigma_m


def empty_predictions(k: int) -> Predictions:
    """Predictions of K rows that are all unavailable (NaN, valid False)."""
    nan = np.full(k, np.nan)

    def pp() -> PointPrediction:
        return PointPrediction(
            nan.copy(), nan.copy(), nan.copy(), nan.copy(), nan.copy(),
            np.full((k, 2, 2), np.nan), np.zeros(k, dtype=np.int64), nan.copy(),
            np.zeros(k, dtype=bool),
        )  # fmt: skip

    return Predictions(pp(), pp(), nan.copy(), nan.copy())


def track_all(
    detections: Iterable[DetectionBatch],
    nation: str,
    config: TrackerConfig | None = None,
    predictions: bool = True,
) -> TrackHistory:
    """Track all of a nation's detections, every sensor merged in time order.

    Detections of one sensor with the same ``t_ns`` form one scan; scans are processed by
    time (ties by the order of the batches). Every update is recorded; the impact/launch
    predictions of each confirmed update are computed after the sweep, all rows in one
    batched pass (they are a pure function of the recorded estimate, so this equals
    revising them at each update, at a fraction of the cost).
    """
    batches = [b for b in detections if b.nation == nation and len(np.asarray(b.t_ns))]
    tracker = NationalTracker(nation, config)
    tracker.record = True
    if batches:
        t = np.concatenate([np.asarray(b.t_ns, dtype=np.int64) for b in batches])
        src = np.concatenate([np.full(len(np.asarray(b.t_ns)), i) for i, b in enumerate(batches)])
        row = np.concatenate([np.arange(len(np.asarray(b.t_ns))) for b in batches])
        order = np.lexsort((row, src, t))
        t, src, row = t[order], src[order], row[order]
        cut = np.flatnonzero((np.diff(t) != 0) | (np.diff(src) != 0)) + 1
        for lo, hi in zip(np.r_[0, cut], np.r_[cut, t.size], strict=True):
            b = batches[int(src[lo])]
            sel = row[lo:hi]
            tracker._scan(b, int(t[lo]), np.asarray(b.z)[sel], np.asarray(b.R)[sel])
    return tracker.history(predictions)
