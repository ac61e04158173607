"""The wire to Microsoft Graph: tokens, one call or one batch, the retry loop, and what an answer confirms."""
