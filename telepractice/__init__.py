"""telepractice: self-hosted, secure video sessions for social work with families."""

__version__ = "0.1.0"
