"""Staged rockets and the missile classes trilink flies.

Every figure here is a notional parameter of the publicly reported order of magnitude
(see docs/physics.md for the sources and the reasoning), not the data of any real
missile. Units SI: kg, s, m^2, N. Thrust is *vacuum* thrust, T_vac = g0 Isp_vac mdot;
at height h the nozzle loses p(h) A_exit (the standard back-pressure term, Sutton &
Biblarz, *Rocket Propulsion Elements*, ch. 2, the thrust equation).
"""

from __future__ import annotations

from dataclasses import dataclass

from trilink.geo.wgs84 import G0


@dataclass(frozen=True)
class Stage:
    """One rocket stage burning at constant mass flow.

    Attributes:
        propellant_kg: propellant burnt in ``burn_s`` at full duration.
        dry_kg: structure, motor and case dropped at separation.
        isp_vac_s: vacuum specific impulse [s].
        burn_s: full burn duration [s].
        exit_area_m2: total nozzle exit area (back-pressure loss at low altitude).
        diameter_m: body diameter (drag reference area pi d^2 / 4).
        cd: drag coefficient of the stack while this stage flies (constant, subsonic to
            hypersonic average; boost drag losses are ~1-3 % of the velocity budget).
    """

    propellant_kg: float
    dry_kg: float
    isp_vac_s: float
    burn_s: float
    exit_area_m2: float
    diameter_m: float
    cd: float = 0.3

    @property
    def mass_flow_kg_s(self) -> float:
        return self.propellant_kg / self.burn_s

    @property
    def thrust_vac_n(self) -> float:
        return G0 * self.isp_vac_s * self.mass_flow_kg_s

    @property
    def ref_area_m2(self) -> float:
        return 0.25 * 3.141592653589793 * self.diameter_m**2


@dataclass(frozen=True)
class MissileClass:
    """A missile class: stages, payload, re-entry body and pitch-programme timing.

    Attributes:
        name: upper-case key, e.g. ``"ICBM"``.
        description: what public class it stands for.
        stages: first stage first.
        payload_kg: re-entry vehicle (and anything carried to burnout).
        rv_beta_kg_m2: ballistic coefficient m / (Cd A) of the re-entering body.
        rcs_boost_m2, rcs_rv_m2: radar cross-section during boost / after burnout.
        vertical_rise_s: vertical flight before the pitch-over (clears the pad, gains speed).
        kick_s: duration of the pitch-over ramp; a gravity turn follows.
        min_last_burn_s: the shortest final-stage burn the design may command.
    """

    name: str
    description: str
    stages: tuple[Stage, ...]
    payload_kg: float
    rv_beta_kg_m2: float
    rcs_boost_m2: float
    rcs_rv_m2: float
    vertical_rise_s: float
    kick_s: float
    min_last_burn_s: float

    def __post_init__(self) -> None:
        if len(self.stages) == 1 and self.min_last_burn_s <= self.vertical_rise_s + self.kick_s:
            raise ValueError(f"{self.name}: a single stage must burn past its pitch-over")
        if not 0.0 < self.min_last_burn_s < self.stages[-1].burn_s:
            raise ValueError(f"{self.name}: min_last_burn_s must lie inside the last burn")

    @property
    def liftoff_mass_kg(self) -> float:
        return self.payload_kg + sum(s.propellant_kg + s.dry_kg for s in self.stages)

    @property
    def total_burn_s(self) -> float:
        return sum(s.burn_s for s in self.stages)

    def stage_start_mass_kg(self, k: int) -> float:
        """Mass at ignition of stage k (0-based): payload plus stages k and above."""
        return self.payload_kg + sum(s.propellant_kg + s.dry_kg for s in self.stages[k:])

    @property
    def ideal_delta_v_mps(self) -> float:
        """Tsiolkovsky sum over stages (vacuum, no gravity or drag loss)."""
        import math

        dv = 0.0
        for k, s in enumerate(self.stages):
            m0 = self.stage_start_mass_kg(k)
            dv += G0 * s.isp_vac_s * math.log(m0 / (m0 - s.propellant_kg))
        return dv


MISSILE_CLASSES: dict[str, MissileClass] = {
    "SRBM": MissileClass(
        name="SRBM",
        description="single-stage solid short-range missile (Scud-B / KN-23 class), 250-800 km",
        stages=(
            Stage(
                propellant_kg=3_600.0,
                dry_kg=650.0,
                isp_vac_s=265.0,
                burn_s=50.0,
                exit_area_m2=0.15,
                diameter_m=0.95,
            ),
        ),
        payload_kg=500.0,
        rv_beta_kg_m2=5_000.0,
        rcs_boost_m2=1.0,
        rcs_rv_m2=0.1,
        vertical_rise_s=4.0,
        kick_s=10.0,
        min_last_burn_s=16.0,
    ),
    "IRBM": MissileClass(
        name="IRBM",
        description="single-stage liquid intermediate-range missile (Hwasong-12 class), ~4,500-5,500 km",
        stages=(
            Stage(
                propellant_kg=22_000.0,
                dry_kg=1_800.0,
                isp_vac_s=315.0,
                burn_s=150.0,
                exit_area_m2=1.0,
                diameter_m=1.65,
            ),
        ),
        payload_kg=650.0,
        rv_beta_kg_m2=6_000.0,
        rcs_boost_m2=3.0,
        rcs_rv_m2=0.05,
        vertical_rise_s=8.0,
        kick_s=6.0,
        min_last_burn_s=25.0,
    ),
    "ICBM": MissileClass(
        name="ICBM",
        description="two-stage intercontinental missile (Hwasong-15/17/18 class), > 10,000 km",
        stages=(
            Stage(
                propellant_kg=50_000.0,
                dry_kg=3_500.0,
                isp_vac_s=300.0,
                burn_s=100.0,
                exit_area_m2=2.5,
                diameter_m=2.4,
            ),
            Stage(
                propellant_kg=10_000.0,
                dry_kg=1_000.0,
                isp_vac_s=320.0,
                burn_s=110.0,
                exit_area_m2=0.8,
                diameter_m=2.0,
            ),
        ),
        payload_kg=1_000.0,
        rv_beta_kg_m2=6_000.0,
        rcs_boost_m2=5.0,
        rcs_rv_m2=0.02,
        vertical_rise_s=10.0,
        kick_s=8.0,
        min_last_burn_s=5.0,
    ),
}
