"""The entry points, which only translate: the Functions triggers, their replies, health, and the CLI."""
