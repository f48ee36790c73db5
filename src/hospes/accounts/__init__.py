"""Client accounts, users, admins, services; passwords; sessions; login throttling."""
