"""Containing targets: the policy (protected users, limits, dry run), the actions, the ledger and the verdict."""
