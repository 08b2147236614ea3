"""trilink — open coalition missile-warning data link."""

__version__ = "0.1.0"
