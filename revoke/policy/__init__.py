"""Who may ask for what, and how much: caller identity and app roles, and the tenant-wide action budget."""
