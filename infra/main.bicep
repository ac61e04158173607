// Everything `azd up` provisions for the containment function, in one resource group: a Flex
// Consumption function app with a user-assigned identity, its storage (queues included),
// Application Insights, the Microsoft Graph permissions of the allowed actions, and the optional
// Sentinel bridge; in the Sentinel workspace's resource group, when one is named, the role that
// lets the function comment on incidents (when comments are on) and the optional automation rule;
// and the audit table, its data collection rule and workbook, in the Sentinel workspace when one is
// named, else in the app's own Log Analytics workspace.
targetScope = 'subscription'

@minLength(1)
@maxLength(64)
@description('Name of the azd environment; it seeds every resource name.')
param environmentName string

@minLength(1)
@description('Region for all resources; it must offer the Flex Consumption plan.')
@metadata({
  azd: {
    type: 'location'
  }
})
param location string

@description('Resource group to create; empty for rg-<environmentName>.')
param resourceGroupName string = ''

// ---------------------------------------------------------------------------
// Microsoft Graph permissions for the function's identity (see docs/DEPLOY.md).
// A deployer without the Entra rights to grant app roles sets these to false and runs
// infra/scripts/grant-graph-permissions.sh later, or has an administrator run it.
// ---------------------------------------------------------------------------
@description('Grant the Graph application roles of the actions in revokeActions to the function identity.')
param grantGraphRevokePermission bool = true

@description('Grant the read role for the look-ups, as app/graph-permissions.bicep picks it: the full user read when revokeSignInSessions is the only containing action (telling external users apart), otherwise User.ReadBasic.All (protected users named in the other form, confirmCompromised for users named by UPN, releases) unless the full read is granted anyway.')
param grantGraphReadPermission bool = true

// ---------------------------------------------------------------------------
// App settings the function reads (revoke/settings/); defaults equal the code's defaults.
// ---------------------------------------------------------------------------
@description('REVOKE_GRAPH_ENDPOINT: Microsoft Graph origin (national clouds use their own).')
param revokeGraphEndpoint string = 'https://graph.microsoft.com'

@description('REVOKE_ACTION: the Graph action used to revoke sessions.')
@allowed([
  'revokeSignInSessions'
  'invalidateAllRefreshTokens'
])
param revokeAction string = 'revokeSignInSessions'

@description('REVOKE_ACTIONS: comma-separated containment actions this deployment may take: revokeSignInSessions, disableAccount, confirmCompromised. The Graph app roles of an action are granted only when it is listed.')
@minLength(1)
param revokeActions string = 'revokeSignInSessions'

@description('REVOKE_RELEASE_ACTIONS: comma-separated release actions (undoing a containment) this deployment may take: enableAccount, dismissRisk. Empty (the default): none. Their Graph app roles are granted only when listed.')
param revokeReleaseActions string = ''

@description('REVOKE_INCIDENT_COMMENTS: comment on the Sentinel incident a request names, in the workspace named below; with a workspace, the identity gets Microsoft Sentinel Responder there.')
param revokeIncidentComments bool = true

@description('REVOKE_DRY_RUN: when true the function logs what it would revoke and calls nothing.')
param revokeDryRun bool = false

@description('REVOKE_PROTECTED_USERS: comma-separated UPNs or object ids never revoked (break-glass accounts).')
param revokeProtectedUsers string = ''

@description('REVOKE_PROTECTED_GROUPS: comma-separated group object ids whose members, at any depth, are never acted on (the administrators\' and break-glass groups).')
param revokeProtectedGroups string = ''

@description('REVOKE_PROTECTED_ROLES: comma-separated directory role template ids whose active holders, directly or through a role-assignable group, are never acted on (e.g. Global Administrator 62e90394-69f5-4237-9190-012177145e10).')
param revokeProtectedRoles string = ''

@description('REVOKE_CONTAINMENT_RECORDS: record every contained user in the host storage account\'s Table Storage, so a release undoes only what this deployment contained; release actions need it.')
param revokeContainmentRecords bool = true

@description('REVOKE_REQUIRE_REASON: a direct request, a release or the CLI must say why (400 reason_required otherwise).')
param revokeRequireReason bool = true

@description('REVOKE_MAX_USERS: most users one request may name.')
@minValue(1)
@maxValue(1000)
param revokeMaxUsers int = 25

@description('REVOKE_MAX_BODY_BYTES: largest request body accepted.')
@minValue(1024)
@maxValue(2097152)
param revokeMaxBodyBytes int = 1048576

@description('REVOKE_QUEUE_NAME: the request queue; its poison queue is <name>-poison.')
@minLength(3)
@maxLength(56)
param revokeQueueName string = 'revoke-requests'

@description('REVOKE_RETRY_BUDGET_SECONDS: time allowed for retrying throttled Graph calls.')
@minValue(1)
@maxValue(200)
param revokeRetryBudgetSeconds int = 60

@description('REVOKE_MAX_PARALLEL: Graph calls in flight at once per request.')
@minValue(1)
@maxValue(64)
param revokeMaxParallel int = 8

// ---------------------------------------------------------------------------
// Who may call, and how much the whole deployment may do per hour (docs/DEPLOY.md, "Callers").
// ---------------------------------------------------------------------------
@description('REVOKE_CALLER_AUTH: entra (every HTTP caller also needs an Entra ID token for the API, with an app role per action) or key (the function key alone; health warns).')
@allowed([
  'entra'
  'key'
])
param revokeCallerAuth string = 'entra'

@description('REVOKE_ACTION_BUDGET: targets each action may be sent for per rolling hour across every instance (action=N pairs), or off.')
param revokeActionBudget string = 'revokeSignInSessions=200,disableAccount=50,confirmCompromised=100,enableAccount=50,dismissRisk=100,disableActiveDirectoryAccount=50,forceActiveDirectoryPasswordReset=50,enableActiveDirectoryAccount=50'

// Users synced from Active Directory (docs/CONTAINED.md, "Hybrid users").
@description('REVOKE_ONPREM_ACTIONS: the Active Directory actions Microsoft Defender for Identity takes for users synced from Active Directory: empty (none), disableAccount, or disableAccount,forcePasswordReset. When set, the identity gets SecurityIdentitiesAccount.Read.All and SecurityIdentitiesActions.ReadWrite.All; Defender for Identity needs its sensor on the domain controllers.')
param revokeOnpremActions string = ''

@description('REVOKE_VERIFY_AFTER_SECONDS: seconds after a containment that disabled someone to check it again (one 30-minute directory sync cycle and a margin), or off; the verify queue is created unless off.')
param revokeVerifyAfterSeconds string = '2100'

@description('REVOKE_VERIFY_QUEUE_NAME: the queue the check after the next directory sync waits on; its poison queue is <name>-poison.')
@minLength(3)
@maxLength(56)
param revokeVerifyQueueName string = 'revoke-verify'

@description('REVOKE_QUEUE_BUDGET_SHARE: the share (0 to 1) of each action\'s hourly budget only the request queue (Sentinel incidents) may take; HTTP callers together take the rest.')
param revokeQueueBudgetShare string = '0.25'

@description('The callers of the API and their app roles, assigned as code: [{ principalId: <service principal object id of a SOAR app or a managed identity>, roles: [Containment.Revoke, Containment.Disable, Containment.ConfirmCompromised, Containment.Release, Containment.Campaign] }].')
param revokeCallers array = []

// ---------------------------------------------------------------------------
// Mass containment campaigns (docs/CAMPAIGNS.md): off unless enabled. Enabling them creates the
// campaign queue and table and grants their data roles and the Graph read roles the scopes need.
// ---------------------------------------------------------------------------
@description('REVOKE_CAMPAIGNS: allow mass containment campaigns (a group, a directory role or every user).')
param revokeCampaigns bool = false

@description('REVOKE_CAMPAIGN_QUEUE_NAME: the campaign queue; its poison queue is <name>-poison.')
@minLength(3)
@maxLength(56)
param revokeCampaignQueueName string = 'revoke-campaigns'

@description('REVOKE_MAX_CAMPAIGN_USERS: most targets one campaign may have.')
@minValue(1)
@maxValue(1000000)
param revokeMaxCampaignUsers int = 10000

@description('REVOKE_GRAPH_WRITE_QUOTA: Graph\'s identity write quota for this app, writes/seconds.')
param revokeGraphWriteQuota string = '3000/150'

@description('REVOKE_CAMPAIGN_QUOTA_SHARE: the share of the write quota a campaign uses (0.05 to 1), leaving the rest to other apps.')
param revokeCampaignQuotaShare string = '0.8'

@description('REVOKE_CAMPAIGN_APPROVAL: two-person (the caller who starts a campaign must be another app and principal than the one who previewed it) or single.')
@allowed([
  'two-person'
  'single'
])
param revokeCampaignApproval string = 'two-person'

@description('REVOKE_CAMPAIGN_PREVIEW_TTL_SECONDS: how long a campaign preview may be started.')
@minValue(60)
@maxValue(86400)
param revokeCampaignPreviewTtlSeconds int = 3600

// ---------------------------------------------------------------------------
// Sentinel bridge (Logic App: incident trigger -> request queue).
// ---------------------------------------------------------------------------
@description('Deploy the Logic App that puts Sentinel incidents on the request queue.')
param deploySentinelBridge bool = true

@description('Give Microsoft Sentinel the right to run playbooks in this resource group (looks up its service principal in Entra).')
param grantSentinelPlaybookPermission bool = false

@description('Sentinel workspace name: the one workspace whose incidents the function comments on (REVOKE_SENTINEL_WORKSPACE); with sentinelAnalyticRuleIds set, an automation rule there runs the bridge.')
param sentinelWorkspaceName string = ''

@description('Resource group of the Sentinel workspace.')
param sentinelWorkspaceResourceGroup string = ''

@description('Subscription of the Sentinel workspace; empty for this subscription.')
param sentinelWorkspaceSubscriptionId string = ''

@description('Comma-separated analytics rule ids (full resource ids) whose incidents start a revocation; the automation rule is created only when this is set.')
param sentinelAnalyticRuleIds string = ''

@description('Assign Microsoft Sentinel Responder on the workspace when incident comments are on; false if it is assigned by hand.')
param grantSentinelCommentPermission bool = true

// ---------------------------------------------------------------------------
// The audit trail where the SOC looks (docs/AUDIT.md, "In the workspace").
// ---------------------------------------------------------------------------
@description('Send every audit event also to the ContainmentAudit_CL table, in the Sentinel workspace when one is named, else in the app\'s Log Analytics workspace, through a data collection rule (REVOKE_AUDIT_DCR_ENDPOINT, REVOKE_AUDIT_DCR_ID, REVOKE_AUDIT_STREAM), with a workbook over it; false: the events stay in Application Insights only.')
param revokeAuditTable bool = true

@description('Assign Monitoring Metrics Publisher on the audit table\'s rule to the function identity; false if it is assigned by hand.')
param grantAuditPublisherPermission bool = true

var resourceToken = toLower(uniqueString(subscription().id, environmentName, location))
var tags = {
  'azd-env-name': environmentName
}
var functionAppName = 'func-revoke-${resourceToken}'
var analyticRuleIds = filter(map(split(sentinelAnalyticRuleIds, ','), id => trim(id)), id => !empty(id))
var deployAutomationRule = deploySentinelBridge && !empty(sentinelWorkspaceName) && !empty(analyticRuleIds)

// The action names as the code compares them: trimmed, in any case, empty items ignored.
var enabledActions = map(filter(split(revokeActions, ','), name => !empty(trim(name))), name => toLower(trim(name)))
var enabledReleaseActions = map(filter(split(revokeReleaseActions, ','), name => !empty(trim(name))), name => toLower(trim(name)))
// Protection by membership as the code reads the two settings: any id listed, empty items ignored.
var protectionByMembership = !empty(filter(split('${revokeProtectedGroups},${revokeProtectedRoles}', ','), id => !empty(trim(id))))
var enabledOnpremActions = map(filter(split(revokeOnpremActions, ','), name => !empty(trim(name))), name => toLower(trim(name)))
var verifyOn = toLower(trim(revokeVerifyAfterSeconds)) != 'off'

// The Sentinel workspace, when one is named: where comments go and the automation rule lives.
var sentinelWorkspaceSubscription = empty(sentinelWorkspaceSubscriptionId) ? subscription().subscriptionId : sentinelWorkspaceSubscriptionId
var sentinelWorkspaceGroup = empty(sentinelWorkspaceResourceGroup) ? rg.name : sentinelWorkspaceResourceGroup
var sentinelWorkspaceId = empty(sentinelWorkspaceName) ? '' : '/subscriptions/${sentinelWorkspaceSubscription}/resourceGroups/${sentinelWorkspaceGroup}/providers/Microsoft.OperationalInsights/workspaces/${sentinelWorkspaceName}'
var incidentCommentsOn = revokeIncidentComments && !empty(sentinelWorkspaceName)

// The audit table's workspace: the Sentinel workspace when one is named (where the SOC hunts), else
// the app's own. Known when the deployment starts, as a module's scope must be.
var logAnalyticsName = 'log-revoke-${resourceToken}'
var auditInSentinel = !empty(sentinelWorkspaceName)
var auditWorkspaceName = auditInSentinel ? sentinelWorkspaceName : logAnalyticsName
var auditWorkspaceSubscription = auditInSentinel ? sentinelWorkspaceSubscription : subscription().subscriptionId
var auditWorkspaceGroup = auditInSentinel ? sentinelWorkspaceGroup : rg.name
var auditRuleName = 'dcr-revoke-audit-${resourceToken}'

// The settings the code reads. AZURE_CLIENT_ID is added by app/function.bicep from the identity.
var revokeAppSettings = {
  REVOKE_GRAPH_ENDPOINT: revokeGraphEndpoint
  REVOKE_ACTION: revokeAction
  REVOKE_ACTIONS: revokeActions
  REVOKE_RELEASE_ACTIONS: revokeReleaseActions
  REVOKE_INCIDENT_COMMENTS: revokeIncidentComments ? 'true' : 'false'
  REVOKE_SENTINEL_WORKSPACE: sentinelWorkspaceId
  // This cloud's Resource Manager ('https://management.azure.com/' in Azure's public cloud; the
  // code drops the trailing slash): the comments' endpoint and token audience.
  REVOKE_ARM_ENDPOINT: environment().resourceManager
  REVOKE_DRY_RUN: revokeDryRun ? 'true' : 'false' // string() would give 'True'
  REVOKE_PROTECTED_USERS: revokeProtectedUsers
  REVOKE_PROTECTED_GROUPS: revokeProtectedGroups
  REVOKE_PROTECTED_ROLES: revokeProtectedRoles
  REVOKE_REQUIRE_REASON: revokeRequireReason ? 'true' : 'false'
  REVOKE_CONTAINMENT_RECORDS: revokeContainmentRecords ? 'true' : 'false'
  REVOKE_MAX_USERS: string(revokeMaxUsers)
  REVOKE_MAX_BODY_BYTES: string(revokeMaxBodyBytes)
  REVOKE_QUEUE_NAME: revokeQueueName
  REVOKE_RETRY_BUDGET_SECONDS: string(revokeRetryBudgetSeconds)
  REVOKE_MAX_PARALLEL: string(revokeMaxParallel)
  REVOKE_CALLER_AUTH: revokeCallerAuth
  // This cloud's Entra ID sign-in endpoint ('https://login.microsoftonline.com/' in Azure's public
  // cloud; the code drops the trailing slash), this tenant, and the API registration's two names.
  REVOKE_AUTH_AUTHORITY: environment().authentication.loginEndpoint
  REVOKE_AUTH_TENANT_ID: tenant().tenantId
  REVOKE_AUTH_AUDIENCE: '${apiRegistration.outputs.appId},${apiRegistration.outputs.identifierUri}'
  REVOKE_ACTION_BUDGET: revokeActionBudget
  REVOKE_QUEUE_BUDGET_SHARE: revokeQueueBudgetShare
  REVOKE_CAMPAIGNS: revokeCampaigns ? 'true' : 'false'
  REVOKE_CAMPAIGN_QUEUE_NAME: revokeCampaignQueueName
  REVOKE_MAX_CAMPAIGN_USERS: string(revokeMaxCampaignUsers)
  REVOKE_GRAPH_WRITE_QUOTA: revokeGraphWriteQuota
  REVOKE_CAMPAIGN_QUOTA_SHARE: revokeCampaignQuotaShare
  // The audit table's rule (app/audit-workspace.bicep); all three empty when revokeAuditTable is false.
  REVOKE_AUDIT_DCR_ENDPOINT: revokeAuditTable ? auditWorkspace.outputs.logsIngestionEndpoint : ''
  REVOKE_AUDIT_DCR_ID: revokeAuditTable ? auditWorkspace.outputs.immutableId : ''
  REVOKE_AUDIT_STREAM: revokeAuditTable ? auditWorkspace.outputs.streamName : ''
  REVOKE_ONPREM_ACTIONS: revokeOnpremActions
  REVOKE_VERIFY_AFTER_SECONDS: revokeVerifyAfterSeconds
  REVOKE_VERIFY_QUEUE_NAME: revokeVerifyQueueName
  REVOKE_CAMPAIGN_APPROVAL: revokeCampaignApproval
  REVOKE_CAMPAIGN_PREVIEW_TTL_SECONDS: string(revokeCampaignPreviewTtlSeconds)
}

resource rg 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: !empty(resourceGroupName) ? resourceGroupName : 'rg-${environmentName}'
  location: location
  tags: tags
}

// User-assigned rather than system-assigned: the identity and its storage roles exist before the
// function app starts, and the identity and its Graph app roles survive the app being deleted and
// re-created, so a redeploy never runs without permissions or leaves orphaned grants.
module identity 'br/public:avm/res/managed-identity/user-assigned-identity:0.4.1' = {
  name: 'identity'
  scope: rg
  params: {
    name: 'id-revoke-${resourceToken}'
    location: location
    tags: tags
  }
}

module logAnalytics 'br/public:avm/res/operational-insights/workspace:0.7.0' = {
  name: 'logAnalytics'
  scope: rg
  params: {
    name: logAnalyticsName
    location: location
    tags: tags
    dataRetention: 90
  }
}

module appInsights 'br/public:avm/res/insights/component:0.4.1' = {
  name: 'appInsights'
  scope: rg
  params: {
    name: 'appi-revoke-${resourceToken}'
    location: location
    tags: tags
    workspaceResourceId: logAnalytics.outputs.resourceId
    // Telemetry is accepted only with an Entra token (Monitoring Metrics Publisher, app/rbac.bicep).
    disableLocalAuth: true
    // Audit events must all arrive: no ingestion sampling. SDK sampling is set in host.json.
    samplingPercentage: 100
  }
}

module storage 'app/storage.bicep' = {
  name: 'storage'
  scope: rg
  params: {
    name: 'strevoke${resourceToken}'
    location: location
    tags: tags
    requestQueueName: revokeQueueName
    deploymentContainerName: 'app-package-${resourceToken}'
  }
}

// The API's Entra app registration: app roles, api:// identifier URI, v2.0 tokens, its service
// principal, and the callers' role assignments from revokeCallers.
module apiRegistration 'app/api-registration.bicep' = {
  name: 'apiRegistration'
  scope: rg
  params: {
    uniqueName: 'revoke-api-${resourceToken}'
    displayName: 'Revoke API (${environmentName})'
    callers: revokeCallers
  }
}

module api 'app/function.bicep' = {
  name: 'api'
  scope: rg
  params: {
    name: functionAppName
    planName: 'plan-revoke-${resourceToken}'
    location: location
    tags: union(tags, { 'azd-service-name': 'api' })
    identityId: identity.outputs.resourceId
    identityClientId: identity.outputs.clientId
    storageAccountName: storage.outputs.name
    deploymentContainerName: storage.outputs.deploymentContainerName
    applicationInsightsName: appInsights.outputs.name
    appSettings: revokeAppSettings
  }
  // The host reads storage and sends telemetry as soon as it starts: grant first.
  dependsOn: [
    rbac
  ]
}

module bridge 'app/sentinel-bridge.bicep' = if (deploySentinelBridge) {
  name: 'sentinelBridge'
  scope: rg
  params: {
    name: 'logic-revoke-bridge-${resourceToken}'
    location: location
    tags: tags
    storageAccountName: storage.outputs.name
    requestQueueName: storage.outputs.requestQueueName
  }
}

// The Graph app roles for the identity. Nothing waits for this module and nothing flows out of it,
// so a failed grant (see app/graph-permissions.bicep) never stops the app or its Azure roles. It
// runs after the app, which gives Entra longer to replicate a just-created identity first.
module graphPermissions 'app/graph-permissions.bicep' = {
  name: 'graphPermissions'
  scope: rg
  params: {
    principalId: identity.outputs.principalId
    actions: enabledActions
    releaseActions: enabledReleaseActions
    onpremActions: enabledOnpremActions
    grantActionPermissions: grantGraphRevokePermission
    grantReadPermission: grantGraphReadPermission
    grantCampaignPermissions: revokeCampaigns && grantGraphRevokePermission
    protectionByMembership: protectionByMembership
  }
  dependsOn: [
    api
  ]
}

// The campaign queue, its poison queue and table, and the identity's data roles on them.
module campaigns 'app/campaigns.bicep' = if (revokeCampaigns) {
  name: 'campaigns'
  scope: rg
  params: {
    storageAccountName: storage.outputs.name
    campaignQueueName: revokeCampaignQueueName
    functionPrincipalId: identity.outputs.principalId
  }
}

// The verify queue (the check after the next directory sync), its poison queue, and the identity's
// data roles on them; not when REVOKE_VERIFY_AFTER_SECONDS is off.
module verifyQueue 'app/verify-queue.bicep' = if (verifyOn) {
  name: 'verifyQueue'
  scope: rg
  params: {
    storageAccountName: storage.outputs.name
    verifyQueueName: revokeVerifyQueueName
    functionPrincipalId: identity.outputs.principalId
  }
}

// Only read from Entra, and only when Sentinel is to be let run the bridge.
module sentinelPrincipal 'app/sentinel-principal.bicep' = if (deploySentinelBridge && grantSentinelPlaybookPermission) {
  name: 'sentinelPrincipal'
  scope: rg
}

module rbac 'app/rbac.bicep' = {
  name: 'rbac'
  scope: rg
  params: {
    storageAccountName: storage.outputs.name
    requestQueueName: storage.outputs.requestQueueName
    poisonQueueName: storage.outputs.poisonQueueName
    applicationInsightsName: appInsights.outputs.name
    functionPrincipalId: identity.outputs.principalId
    bridgePrincipalId: deploySentinelBridge ? bridge.outputs.principalId : ''
    sentinelPrincipalId: deploySentinelBridge && grantSentinelPlaybookPermission ? sentinelPrincipal.outputs.principalId : ''
  }
}

// Microsoft Sentinel Responder on the workspace, so the function may comment on its incidents.
// Deployed into the workspace's resource group (the role is assigned at the scope it applies to).
// Like the Graph grant, nothing waits for it: a comment never changes a containment, so a deployer
// without the right to assign roles there still gets a working app.
module sentinelResponder 'app/sentinel-responder.bicep' = if (incidentCommentsOn && grantSentinelCommentPermission) {
  // The workspace's resource group may serve several environments: one deployment name each.
  name: 'sentinelResponder-${resourceToken}'
  scope: resourceGroup(sentinelWorkspaceSubscription, sentinelWorkspaceGroup)
  params: {
    workspaceName: sentinelWorkspaceName
    principalId: identity.outputs.principalId
  }
}

// The audit table, its data collection rule and the workbook, in the audit workspace's resource
// group. The app's settings come from the rule's outputs, so the app waits for this module.
module auditWorkspace 'app/audit-workspace.bicep' = if (revokeAuditTable) {
  // The workspace's resource group may serve several environments: one deployment name each.
  name: 'auditWorkspace-${resourceToken}'
  scope: resourceGroup(auditWorkspaceSubscription, auditWorkspaceGroup)
  params: {
    workspaceName: auditWorkspaceName
    ruleName: auditRuleName
    workbookCategory: auditInSentinel ? 'sentinel' : 'workbook'
    tags: tags
  }
  dependsOn: [
    logAnalytics
  ]
}

// Monitoring Metrics Publisher on the rule, so the function may send. Like the Sentinel Responder
// assignment, nothing waits for it: a delivery refused for want of it costs no containment (a
// warning, and health says so), and a deployer without the right to assign roles there still gets
// a working app.
module auditPublisher 'app/audit-publisher.bicep' = if (revokeAuditTable && grantAuditPublisherPermission) {
  name: 'auditPublisher-${resourceToken}'
  scope: resourceGroup(auditWorkspaceSubscription, auditWorkspaceGroup)
  params: {
    ruleName: auditRuleName
    principalId: identity.outputs.principalId
  }
  dependsOn: [
    auditWorkspace
  ]
}

module automationRule 'app/sentinel-automation-rule.bicep' = if (deployAutomationRule) {
  name: 'sentinelAutomationRule'
  scope: resourceGroup(sentinelWorkspaceSubscription, sentinelWorkspaceGroup)
  params: {
    workspaceName: sentinelWorkspaceName
    playbookResourceId: deploySentinelBridge ? bridge.outputs.resourceId : ''
    analyticRuleIds: analyticRuleIds
    environmentName: environmentName
  }
}

// azd stores these in the environment; docs/DEPLOY.md and infra/scripts use them.
output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = tenant().tenantId
output AZURE_RESOURCE_GROUP string = rg.name
output AZURE_FUNCTION_NAME string = api.outputs.name
output SERVICE_API_NAME string = api.outputs.name
output AZURE_FUNCTION_URL string = api.outputs.url
output AZURE_STORAGE_ACCOUNT_NAME string = storage.outputs.name
output REVOKE_QUEUE_NAME string = storage.outputs.requestQueueName
output REVOKE_POISON_QUEUE_NAME string = storage.outputs.poisonQueueName
output FUNCTION_IDENTITY_PRINCIPAL_ID string = identity.outputs.principalId
output FUNCTION_IDENTITY_CLIENT_ID string = identity.outputs.clientId
// What a caller asks a token for: client credentials with scope '<this>/.default'.
output REVOKE_API_IDENTIFIER_URI string = apiRegistration.outputs.identifierUri
output REVOKE_API_CLIENT_ID string = apiRegistration.outputs.appId
output SENTINEL_BRIDGE_NAME string = deploySentinelBridge ? bridge.outputs.name : ''
output SENTINEL_AUTOMATION_RULE_CREATED bool = deployAutomationRule
// The audit table's workspace and rule; python -m revoke takes the same three REVOKE_AUDIT_* settings.
output AUDIT_WORKSPACE_ID string = revokeAuditTable ? '/subscriptions/${auditWorkspaceSubscription}/resourceGroups/${auditWorkspaceGroup}/providers/Microsoft.OperationalInsights/workspaces/${auditWorkspaceName}' : ''
output REVOKE_AUDIT_DCR_ENDPOINT string = revokeAuditTable ? auditWorkspace.outputs.logsIngestionEndpoint : ''
output REVOKE_AUDIT_DCR_ID string = revokeAuditTable ? auditWorkspace.outputs.immutableId : ''
output REVOKE_AUDIT_STREAM string = revokeAuditTable ? auditWorkspace.outputs.streamName : ''
