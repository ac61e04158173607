"""Every environment variable the service reads, each name defined once."""

from __future__ import annotations


class SettingNames:
    """The environment variables (app settings) the service reads, and nothing else."""

    GRAPH_ENDPOINT = "REVOKE_GRAPH_ENDPOINT"
    ACTION = "REVOKE_ACTION"
    ACTIONS = "REVOKE_ACTIONS"
    RELEASE_ACTIONS = "REVOKE_RELEASE_ACTIONS"
    INCIDENT_COMMENTS = "REVOKE_INCIDENT_COMMENTS"
    SENTINEL_WORKSPACE = "REVOKE_SENTINEL_WORKSPACE"
    ARM_ENDPOINT = "REVOKE_ARM_ENDPOINT"
    DRY_RUN = "REVOKE_DRY_RUN"
    PROTECTED_USERS = "REVOKE_PROTECTED_USERS"
    MAX_USERS = "REVOKE_MAX_USERS"
    MAX_BODY_BYTES = "REVOKE_MAX_BODY_BYTES"
    QUEUE_NAME = "REVOKE_QUEUE_NAME"
    RETRY_BUDGET_SECONDS = "REVOKE_RETRY_BUDGET_SECONDS"
    MAX_PARALLEL = "REVOKE_MAX_PARALLEL"
    CALLER_AUTH = "REVOKE_CALLER_AUTH"
    AUTH_AUTHORITY = "REVOKE_AUTH_AUTHORITY"
    AUTH_TENANT_ID = "REVOKE_AUTH_TENANT_ID"
    AUTH_AUDIENCE = "REVOKE_AUTH_AUDIENCE"
    ACTION_BUDGET = "REVOKE_ACTION_BUDGET"
    QUEUE_BUDGET_SHARE = "REVOKE_QUEUE_BUDGET_SHARE"
    CAMPAIGNS = "REVOKE_CAMPAIGNS"
    CAMPAIGN_QUEUE_NAME = "REVOKE_CAMPAIGN_QUEUE_NAME"
    MAX_CAMPAIGN_USERS = "REVOKE_MAX_CAMPAIGN_USERS"
    GRAPH_WRITE_QUOTA = "REVOKE_GRAPH_WRITE_QUOTA"
    CAMPAIGN_QUOTA_SHARE = "REVOKE_CAMPAIGN_QUOTA_SHARE"
    CAMPAIGN_APPROVAL = "REVOKE_CAMPAIGN_APPROVAL"
    CAMPAIGN_PREVIEW_TTL_SECONDS = "REVOKE_CAMPAIGN_PREVIEW_TTL_SECONDS"
    CLIENT_ID = "AZURE_CLIENT_ID"

    @classmethod
    def all(cls) -> tuple[str, ...]:
        return tuple(value for key, value in vars(cls).items() if key.isupper())


class HostStorageNames:
    """The Functions host's own storage connection, which the action budget and campaigns share (not REVOKE_* settings)."""

    CONNECTION = "AzureWebJobsStorage"
    TABLE_SERVICE_URI = "AzureWebJobsStorage__tableServiceUri"
    QUEUE_SERVICE_URI = "AzureWebJobsStorage__queueServiceUri"
    ACCOUNT_NAME = "AzureWebJobsStorage__accountName"
    CLIENT_ID = "AzureWebJobsStorage__clientId"
