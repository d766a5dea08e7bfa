"""Identity and access: users, roles, cohorts, sign-in, tokens and guards."""
