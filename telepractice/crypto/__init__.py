"""Envelope encryption of case records: per-case data keys wrapped by a key-encryption key."""
