"""Campaigns (revoke.campaigns): off unless enabled, since they act on a whole group, role or tenant;
how many users one may hold, how much of Graph's write quota it may use, who must approve its
start, and how long its preview may be started."""

from __future__ import annotations

from enum import StrEnum

from revoke.settings.names import SettingNames
from revoke.settings.values import parse_choice

# A campaign of more users than this is refused at start; 10,000 users take about 10 minutes
# per action at the default pace. A tenant-wide campaign needs the setting raised on purpose.
DEFAULT_MAX_CAMPAIGN_USERS = 10_000
MAX_CAMPAIGN_USERS_CEILING = 1_000_000
DEFAULT_CAMPAIGN_QUOTA_SHARE = 0.8
# What a preview counted goes stale: an hour to read it and find a second approver.
DEFAULT_CAMPAIGN_PREVIEW_TTL_SECONDS = 3600
MIN_CAMPAIGN_PREVIEW_TTL_SECONDS = 60
MAX_CAMPAIGN_PREVIEW_TTL_SECONDS = 86_400


class CampaignApproval(StrEnum):
    """Who may start a previewed campaign: another caller than the one who previewed it, or anyone allowed."""

    TWO_PERSON = "two-person"
    SINGLE = "single"


def parse_campaign_approval(raw: str | None) -> CampaignApproval:
    return parse_choice(SettingNames.CAMPAIGN_APPROVAL, raw, CampaignApproval.TWO_PERSON)
