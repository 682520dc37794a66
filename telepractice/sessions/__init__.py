"""Sessions of a case: scheduling, invites, consent, attendance, records."""
