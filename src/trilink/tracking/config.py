"""Tuning of the national tracker, in one frozen dataclass with the reasons for each value.

Units are SI (m, s, m/s, rad) like everything inside trilink.
"""

from __future__ import annotations

from dataclasses import dataclass

MOTIONS = ("imm", "cv")


@dataclass(frozen=True)
class TrackerConfig:
    # --- motion models (process-noise PSDs; see dynamics.process_noise) -----------------
    # Ballistic: gravity to J2 leaves ~1e-5 g of unmodelled gravity (J3, J4, ...) and the
    # exponential atmosphere is only a model, hence a small white acceleration.
    q_accel_ballistic: float = 1e-4  # m^2 s^-3 ((0.01 m/s^2)^2 per s)
    # Boost: thrust is not exactly along the velocity (pitch programme, steering): a large
    # white acceleration; the thrust magnitude grows as propellant burns (T/m doubles or
    # triples over a burn) and drops at staging: a random walk of ~6 m/s^2 per sqrt(s)
    # (on the built-in IRBM, 4 and 9 broke the far radar's boost track twice, 25 and 36 once).
    q_accel_boost: float = 25.0  # m^2 s^-3
    q_thrust_boost: float = 36.0  # m^2 s^-5
    # kappa = 1/beta: re-entry vehicles have beta ~ 2e3 .. 2e4 kg/m^2.
    kappa_prior: float = 2e-4  # m^2/kg (beta = 5000 kg/m^2)
    kappa_sigma: float = 2e-4  # m^2/kg
    q_kappa: float = 1e-12  # m^4 kg^-2 s^-1 (slow drift as the vehicle ablates and trims)
    drag_error: float = 0.2  # 1-sigma relative error of the modelled drag acceleration
    h_max_s: float = 2.0  # longest RK4 step of the filter's time update
    # "imm": the ballistic/boost IMM above (missiles). "cv": one nearly-constant-velocity
    # model in ECEF without gravity (CWNA, PSD q_accel_cv per axis, as Stone Soup's
    # ConstantVelocity), for objects in straight flight and for comparisons with other
    # trackers; the 8-D state then carries zero thrust and a frozen kappa.
    motion: str = "imm"
    q_accel_cv: float = 1.0  # m^2 s^-3

    # --- interacting multiple model (ballistic = 0, boost = 1) -------------------------
    # Mean sojourn times: a boost lasts ~1 min per stage; a coast ends in boost only at a
    # staging gap (seconds) or never. Transition probabilities over dt follow from these.
    # A short ballistic sojourn keeps a few per cent of boost model in every mid-course
    # estimate and inflates its covariance (average NEES 4.5 instead of 6 over 50 runs);
    # re-ignition after a staging coast is caught instead by gating on either model and
    # by the floor on the model probabilities (imm.imm_update).
    boost_mean_s: float = 60.0
    ballistic_mean_s: float = 1e5
    mu_boost_init: float = 0.5  # model probability of boost at initiation
    thrust_init: float = 20.0  # m/s^2, prior mean of a_t in the boost model
    thrust_init_sigma: float = 20.0  # m/s^2

    # --- initiation from a single radar detection --------------------------------------
    velocity_prior_sigma: float = 3_500.0  # m/s per axis, zero mean: "moving, direction unknown"

    # --- gating and association --------------------------------------------------------
    gate_probability: float = 0.9999  # chi-square gate of the Mahalanobis distance

    # --- track management --------------------------------------------------------------
    confirm_m: int = 3  # M hits ...
    confirm_n: int = 4  # ... in the first N scans that could see the track
    tentative_timeout_s: float = 30.0  # a tentative track without a hit for this long dies
    max_coast_s: float = 180.0  # a confirmed track without a hit for this long dies
    max_position_sigma_m: float = 30_000.0  # ... or when its position sigma grows past this
    min_altitude_m: float = -2_000.0  # ... or when it is predicted below ground (impacted)
    duplicate_gate: float = 16.0  # chi2(6) distance under which two confirmed tracks merge

    # --- prediction (impact and launch point) ------------------------------------------
    predict_coarse_step_frac: float = 0.06  # RK4 step as a fraction of sqrt(r^3/GM)
    predict_air_height_m: float = 80_000.0  # below this, steps resolve the atmosphere ...
    predict_air_step_frac: float = 1.0  # ... to this fraction of a scale-height crossing
    predict_max_time_s: float = 7_200.0  # give up propagating after this long
    launch_model_error_frac: float = 0.15  # 1-sigma of the straight-line back-extrapolation
    burnout_altitude_default_m: float = 40_000.0  # when the track never saw the boost

    def __post_init__(self) -> None:
        if self.motion not in MOTIONS:
            raise ValueError(f"TrackerConfig.motion must be one of {MOTIONS}, not {self.motion!r}")
