"""The hub's warner: each fusion cycle, the warnings each partner should receive.

:func:`make_warner` builds the :data:`~trilink.nodes.hub.Warner` the hub calls once per
cycle and partner with the SystemTracks released to that partner (already redacted and
stamped). It keeps one :class:`~trilink.alerts.WarningState` per partner, over that
partner's land, 12-nm territorial sea and 200-nm zone (:func:`trilink.alerts.load_territory`),
and applies the rules of ``docs/alerts.md``:

- **launch** — every confirmed missile in flight the partner receives opens a thread with
  an Alert ("Missile launch", CAP urgency Expected). This is issue 4's "first warning": the
  first launch warning a partner holds, a confirmed missile in flight;
- **threat** — the 95 % impact ellipse reaches the partner's land, territorial sea or
  zone, or the remaining ground track crosses its territory: an Alert (or an Update
  "escalated" from launch) with urgency Immediate;
- **Update** on a material change of the prediction (rate-limited), or "downgraded"
  when the threat passes;
- **Cancel** (all-clear) when the missile has fallen, or when its track was lost or fell
  silent and its predicted impact time plus 30 s has passed.

Per call: the tracks are taken in system-track order, each converted
(:func:`~trilink.alerts.threat_from_system_track`) and stepped through the partner's
state; then :meth:`~trilink.alerts.WarningState.tick` at the cycle time closes silent
threads. A track the hub ends arrives as ``status="lost"``: *impacted* if its last state
is below 1 km or at/after its predicted impact time (Cancel at once), else *lost*
(Cancel after the grace time). Everything depends only on the inputs: no wall clock,
no randomness, so a recorded run replayed through :func:`replay_warnings` gives the
same warnings the hub sent.

Each warning becomes an unstamped :class:`~trilink.messages.Warning` (``source="HUB"``,
``measured_ns`` = the decision time, ``releasability=(partner,)``); the hub releases it
through the policy, stamps it and publishes it on ``trilink.hub.out.<partner>.warnings``.

Speed (issues 6, 7): by default the tracks of a call are converted together and their
geometry is shared by the partners that receive the same content in the cycle
(:mod:`trilink.alerts.batch`, :mod:`trilink.alerts.footprints`; ``docs/alerts.md``
section 7.1); ``fast=False`` runs the one-track, one-partner reference. Both decide the
same warnings (a recorded SRBM salvo is checked byte for byte).

Restart (issue 7): :meth:`PartnerWarnings.snapshot` / :meth:`PartnerWarnings.restore`
carry every partner's open threads across a hub restart as plain JSON values, so that a
restarted hub continues its threads instead of alerting again.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence

import shapely

from trilink import messages
from trilink.alerts import (
    Territory,
    ThreatInput,
    WarningEvent,
    WarningRules,
    WarningState,
    load_territory,
    threat_from_system_track,
    warning_fields,
)
from trilink.alerts.batch import Product, threat_products
from trilink.alerts.footprints import footprints
from trilink.alerts.rules import Footprint
from trilink.alerts.snapshot import restore_state, state_to_json
from trilink.alerts.territory import geodata_manifest
from trilink.link.subjects import HUB
from trilink.messages import Envelope, SystemTrack
from trilink.scenario.model import Scenario

log = logging.getLogger(__name__)

MAX_REFERENCES = 64
"""The contract's limit on ``Warning.references`` (``messages.Warning``)."""
MAX_ID_PREFIX = 24
"""Longest warning-id prefix: leaves room for ``-<partner>-<track>-<seq>`` in 64 chars."""


def territory_for(nation: str, known: Iterable[str], name: str | None = None) -> Territory:
    """The nation's territory, or an empty one (launch warnings only) when the geodata
    holds no polygons for it. ``known`` is the manifest's nation list."""
    if nation in set(known):
        return load_territory(nation)
    log.warning("no territory polygons for %s: it gets launch warnings only", nation)
    empty = shapely.Polygon()
    return Territory(nation=nation, name=name or nation, land=empty, territorial=empty, zone=empty)


def id_prefix_of(scenario: Scenario) -> str:
    """``trilink-<scenario name>``, shortened so that every warning id fits 64 chars."""
    return f"trilink-{scenario.name}"[:MAX_ID_PREFIX].rstrip("-")


def warning_message(event: WarningEvent) -> messages.Warning:
    """The unstamped ``Warning`` of one decided warning (the hub stamps and signs it).

    ``measured_ns`` is the decision time, so that ``time_to_impact_s`` equals
    ``(impact_t_ns - measured_ns) / 1e9`` as the contract checks. References beyond the
    contract's 64 keep the thread's Alert and the most recent ones.
    """
    fields = warning_fields(event)
    refs = fields["references"]
    if len(refs) > MAX_REFERENCES:
        fields["references"] = (refs[0], *refs[-(MAX_REFERENCES - 1) :])
    return messages.Warning(
        source=HUB,
        measured_ns=int(event.sent_t_ns),
        releasability=(event.partner,),
        **fields,
    )


class PartnerWarnings:
    """A :data:`~trilink.nodes.hub.Warner`: one warning state per partner.

    ``territories`` maps partner -> :class:`Territory`; a partner first seen in a call
    and missing there gets :func:`territory_for` (its polygons, or launch warnings only).
    ``history`` keeps every decided :class:`WarningEvent` per partner when ``keep``.

    ``fast`` (default): each released track's rules input and geometry are computed once
    per cycle (:func:`trilink.alerts.batch.threat_products`), keyed on the track's
    content, so the partners that receive the same product share them; each partner's
    geometric facts come from vectorised predicates over all its tracks
    (:func:`trilink.alerts.batch.footprints`). ``fast=False`` runs the reference, one
    track and one partner at a time (:func:`threat_of`, :func:`trilink.alerts.assess`).
    Both decide the same warnings.
    """

    def __init__(
        self,
        territories: Mapping[str, Territory],
        rules: WarningRules = WarningRules(),
        id_prefix: str = "trilink",
        *,
        keep: bool = False,
        fast: bool = True,
    ):
        self.rules = rules
        self.id_prefix = id_prefix
        self.states = {p: WarningState(t, rules, id_prefix) for p, t in territories.items()}
        self.keep = keep
        self.fast = fast
        self.history: dict[str, list[WarningEvent]] = {}
        self._cycle_t_ns: int | None = None
        self._products: dict[tuple, Product] = {}

    def state(self, partner: str) -> WarningState:
        if partner not in self.states:
            known = geodata_manifest().get("nations", {})
            territory = territory_for(partner, known)
            self.states[partner] = WarningState(territory, self.rules, self.id_prefix)
        return self.states[partner]

    def events(self, partner: str, tracks: Sequence[SystemTrack], t_ns: int) -> list[WarningEvent]:
        """The warning decisions of one cycle for one partner (see module notes)."""
        state = self.state(partner)
        out: list[WarningEvent] = []
        ordered = sorted(tracks, key=lambda m: (m.system_track_number, m.measured_ns))
        steps: Iterable[tuple[ThreatInput, Footprint | None]]
        if self.fast:
            products = self._products_of(ordered, int(t_ns))
            facts = footprints(products, state.territory, self.rules)
            steps = zip((p.threat for p in products), facts, strict=True)
        else:
            steps = ((threat_of(m), None) for m in ordered)
        for threat, fact in steps:
            event = state.step(threat, fact)
            if event is not None:
                out.append(event)
        out.extend(state.tick(int(t_ns)))
        if self.keep:
            self.history.setdefault(partner, []).extend(out)
        return out

    def __call__(self, partner: str, tracks: list[SystemTrack], t_ns: int) -> list[Envelope]:
        return [warning_message(e) for e in self.events(partner, tracks, t_ns)]

    def snapshot(self) -> dict:
        """Everything later decisions depend on, as plain JSON values (strict JSON: no
        NaN or infinity), for a restarted hub: every partner's open warning threads with
        their sequence counters, references, announced predictions and rate-limit
        clocks (:mod:`trilink.alerts.snapshot`). The per-cycle product cache is not
        state (it is rebuilt from the next call's tracks); ``history`` is not kept."""
        return {
            "kind": "trilink.warner",
            "version": SNAPSHOT_VERSION,
            "id_prefix": self.id_prefix,
            "partners": [[p, state_to_json(s)] for p, s in self.states.items()],
        }

    def restore(self, d: dict) -> None:
        """Take the state of :meth:`snapshot` (after ``json.loads``): from the next call
        on, the same warnings as the warner the snapshot was taken from. Partners not in
        the snapshot are left without threads. Raises ``ValueError`` for a snapshot of
        another kind or version, or of a warner with another id prefix (its warning ids
        would not continue)."""
        if d.get("kind") != "trilink.warner" or d.get("version") != SNAPSHOT_VERSION:
            raise ValueError(
                f"not a warner snapshot of version {SNAPSHOT_VERSION}: "
                f"kind={d.get('kind')!r}, version={d.get('version')!r}"
            )
        if d.get("id_prefix") != self.id_prefix:
            raise ValueError(
                f"snapshot of a warner with id prefix {d.get('id_prefix')!r}, "
                f"this one has {self.id_prefix!r}"
            )
        partners = {str(p): threads for p, threads in d["partners"]}
        for partner in partners:
            self.state(partner)
        for partner, state in self.states.items():
            restore_state(state, partners.get(partner, []))
        self._products.clear()
        self._cycle_t_ns = None

    def _products_of(self, msgs: Sequence[SystemTrack], t_ns: int) -> list[Product]:
        """Each track's :class:`Product`, from this cycle's cache or made now (in one
        batch). The cache holds one cycle (cleared when the cycle time changes) and at
        most ``MAX_PRODUCTS``: the partners of one cycle share, nothing older is kept."""
        if t_ns != self._cycle_t_ns or len(self._products) > MAX_PRODUCTS:
            self._products.clear()
            self._cycle_t_ns = t_ns
        keys = [product_key(m) for m in msgs]
        missing: dict[tuple, SystemTrack] = {}
        for key, m in zip(keys, msgs, strict=True):
            if key not in self._products:
                missing.setdefault(key, m)
        if missing:
            made = threat_products(list(missing.values()), self.rules)
            self._products.update(zip(missing, made, strict=True))
        return [self._products[k] for k in keys]


SNAPSHOT_VERSION = 1
"""Version of :meth:`PartnerWarnings.snapshot`'s layout."""

MAX_PRODUCTS = 100_000
"""Bound on the per-cycle product cache (a cycle of the issue-7 soak holds 1,000)."""


def product_key(msg: SystemTrack) -> tuple:
    """What the rules read of a released track: equal keys, equal rules inputs. The
    envelope (message id, seq, signature, releasability) differs between partners and
    is not read."""
    return (
        msg.system_track_number,
        msg.measured_ns,
        msg.status,
        msg.phase,
        msg.state_ecef,
        msg.covariance_ecef,
        msg.launch,
        msg.impact,
        msg.missile_class,
    )


def threat_of(msg: SystemTrack) -> ThreatInput:
    """The rules' view of a released system track."""
    return threat_from_system_track(msg)


def make_warner(
    scenario: Scenario,
    rules: WarningRules = WarningRules(),
    *,
    keep: bool = False,
) -> PartnerWarnings:
    """The hub's warner for a scenario: one warning state per nation of the scenario.

    Territories are loaded here, once (raises :class:`~trilink.errors.GeodataMissing`
    naming the build command when the territory files were never built); a nation the
    geodata does not cover gets launch warnings only.
    """
    known = geodata_manifest().get("nations", {})
    territories = {n.id: territory_for(n.id, known, n.name) for n in scenario.nations}
    return PartnerWarnings(territories, rules, id_prefix_of(scenario), keep=keep)


def replay_warnings(
    cycles: Iterable[tuple[int, Sequence[SystemTrack]]],
    territory: Territory,
    rules: WarningRules = WarningRules(),
    id_prefix: str = "trilink",
) -> list[WarningEvent]:
    """The warnings one partner gets over ``(t_ns, tracks released that cycle)`` pairs in
    time order: the hub's per-cycle calls, replayed (e.g. from a recording)."""
    warner = PartnerWarnings({territory.nation: territory}, rules, id_prefix)
    out: list[WarningEvent] = []
    for t_ns, tracks in cycles:
        out.extend(warner.events(territory.nation, tracks, t_ns))
    return out
