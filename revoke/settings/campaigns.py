"""Campaigns (revoke.campaigns): off unless enabled, since they act on a whole group, role or tenant;
how many users one may hold, and how much of Graph's write quota it may use."""

from __future__ import annotations

# A campaign of more users than this is refused at start; 10,000 users take about 10 minutes
# per action at the default pace. A tenant-wide campaign needs the setting raised on purpose.
DEFAULT_MAX_CAMPAIGN_USERS = 10_000
MAX_CAMPAIGN_USERS_CEILING = 1_000_000
DEFAULT_CAMPAIGN_QUOTA_SHARE = 0.8
