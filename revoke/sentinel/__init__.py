"""Microsoft Sentinel: the comment that tells an incident what became of its users."""
