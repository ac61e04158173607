"""Contain compromised Entra ID users: revoke their sign-in sessions through Microsoft Graph."""
