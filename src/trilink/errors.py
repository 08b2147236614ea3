"""Every exception trilink raises on purpose. Each carries its data as attributes.

    TrilinkError
    ├── ScenarioError            a scenario file is wrong: .problems = [(path, reason)]
    ├── TrajectoryInfeasible     a flight the missile cannot fly: .reason
    ├── DecodeError              bytes that are not a valid message: .field, .reason
    ├── VerificationError        signature, key, replay or clock checks failed: .reason, .field
    │   ├── BadSignature
    │   ├── UnknownSource
    │   ├── ReplayedMessage
    │   └── ClockSkew
    ├── ReleaseDenied            policy forbids a release: .partner, .reason
    ├── PolicyError              a policy that cannot be enforced as written: .path, .reason
    ├── AuditError               the audit chain is broken: .line, .reason
    ├── BusError                 a bad subject or pattern, a closed or unreachable bus: .subject, .reason
    ├── GeodataMissing           built territory data not found: .path, .hint
    ├── AssetsMissing            the web page's npm files (npm ci) not found: .path, .hint
    └── DeployError              a NATS topology, PKI or server process problem: .what, .reason

Add a class here, with its place in the tree above, rather than anywhere else.
"""

from __future__ import annotations


class TrilinkError(Exception):
    """Root of trilink's exceptions."""


class ScenarioError(TrilinkError):
    """A scenario file failed validation; ``problems`` lists ``(field.path, reason)``."""

    def __init__(self, source: str, problems: list[tuple[str, str]]):
        self.source = source
        self.problems = problems
        # An empty path is a problem with the whole file (unreadable, not found).
        lines = (
            f"{source}:{path}: {reason}" if path else f"{source}: {reason}"
            for path, reason in problems
        )
        super().__init__("\n".join(lines))


class TrajectoryInfeasible(TrilinkError):
    """The requested flight cannot be flown by the chosen missile class."""

    def __init__(self, reason: str):
        self.reason = reason
        super().__init__(reason)


class DecodeError(TrilinkError):
    """Bytes that do not decode to a valid message; ``field`` names where."""

    def __init__(self, field: str, reason: str):
        self.field = field
        self.reason = reason
        super().__init__(f"{field}: {reason}")


class VerificationError(TrilinkError):
    """A message failed an authenticity or freshness check; ``field`` names the field
    that failed it (``"$"``: the message as a whole)."""

    def __init__(self, reason: str, field: str = "$"):
        self.reason = reason
        self.field = field
        super().__init__(reason)


class BadSignature(VerificationError):
    pass


class UnknownSource(VerificationError):
    pass


class ReplayedMessage(VerificationError):
    pass


class ClockSkew(VerificationError):
    pass


class ReleaseDenied(TrilinkError):
    def __init__(self, partner: str, reason: str):
        self.partner = partner
        self.reason = reason
        super().__init__(f"release to {partner} denied: {reason}")


class PolicyError(TrilinkError):
    def __init__(self, path: str, reason: str):
        self.path = path
        self.reason = reason
        super().__init__(f"{path}: {reason}")


class AuditError(TrilinkError):
    def __init__(self, line: int, reason: str):
        self.line = line
        self.reason = reason
        super().__init__(f"audit line {line}: {reason}")


class BusError(TrilinkError):
    """A subject or pattern the bus cannot carry, or a bus that is closed or unreachable."""

    def __init__(self, subject: str, reason: str):
        self.subject = subject
        self.reason = reason
        super().__init__(f"{subject}: {reason}")


class GeodataMissing(TrilinkError):
    """The territory polygons built at set-up time are missing; ``hint`` says how to build."""

    def __init__(self, path: str, hint: str):
        self.path = path
        self.hint = hint
        super().__init__(f"territory data not found at {path}: {hint}")


class AssetsMissing(TrilinkError):
    """The web page's front-end files (installed by ``npm ci``) are missing; ``hint`` says
    how to install them."""

    def __init__(self, path: str, hint: str):
        self.path = path
        self.hint = hint
        super().__init__(f"web assets not found at {path}: {hint}")


class DeployError(TrilinkError):
    """The live topology cannot be built or run: bad deploy input, missing PKI files, a
    nats-server that is missing, refuses its config or does not come up; ``what`` names it."""

    def __init__(self, what: str, reason: str):
        self.what = what
        self.reason = reason
        super().__init__(f"{what}: {reason}")
