"""Releasability policy: rules per source nation, release with redaction, audit chain."""

from trilink.policy.audit import AuditLog, verify_audit, verify_records
from trilink.policy.release import check_redactable, kind_of, redact, release
from trilink.policy.rules import Decision, Policy, Rule

__all__ = [
    "AuditLog",
    "Decision",
    "Policy",
    "Rule",
    "check_redactable",
    "kind_of",
    "redact",
    "release",
    "verify_audit",
    "verify_records",
]
