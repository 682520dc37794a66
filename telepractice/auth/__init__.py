"""Staff accounts, passwords, signed tokens, logins and role checks."""
