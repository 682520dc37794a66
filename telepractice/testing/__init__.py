"""Helpers for telepractice's own tests: real services on loopback, started and stopped by PID."""
