"""Names the campaign storage shares with the infrastructure (infra/app/campaigns.bicep)."""

TABLE_NAME = "revokecampaigns"
