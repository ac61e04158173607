"""The trail: one audit event per action, and the redaction that keeps secrets out of every log."""
