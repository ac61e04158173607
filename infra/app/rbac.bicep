// Every Azure role assignment in the app's resource group, from one table. Each row says who gets
// which role on what, and why; the loops below only differ in the kind of scope they attach to.
// The app waits for all of them. The one assignment elsewhere, Microsoft Sentinel Responder on the
// Sentinel workspace for incident comments, is app/sentinel-responder.bicep: nothing waits for it.

param storageAccountName string
param requestQueueName string
param poisonQueueName string
param applicationInsightsName string
param functionPrincipalId string

@description('Object id of the bridge Logic App identity; empty when the bridge is not deployed.')
param bridgePrincipalId string

@description('Object id of the Azure Security Insights service principal; empty to skip that grant.')
param sentinelPrincipalId string

// Built-in role definition ids (Azure built-in roles reference, storage/monitor/security pages).
var roles = {
  storageBlobDataOwner: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
  storageTableDataContributor: '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'
  storageQueueDataContributor: '974c5e8b-45b9-4653-ba55-5f855dd0fb88'
  storageQueueDataMessageSender: 'c6a89b2d-59bc-44d0-9896-0f6e12d7b80a'
  monitoringMetricsPublisher: '3913510d-42f4-4e42-8a64-420c390055eb'
  microsoftSentinelAutomationContributor: 'f4c81013-99ee-4d62-a7ee-b3f1f648599a'
}

var principals = {
  function: functionPrincipalId
  bridge: bridgePrincipalId
  sentinel: sentinelPrincipalId
}

// scope: 'storage' (the account), 'queue' (one queue, named in `queue`), 'appInsights', 'resourceGroup'.
var grants = [
  {
    principal: 'function'
    role: 'storageBlobDataOwner'
    scope: 'storage'
    why: 'Host keys, leases and the Flex Consumption deployment package live in blob containers the host creates.'
  }
  {
    principal: 'function'
    role: 'storageTableDataContributor'
    scope: 'storage'
    why: 'The host records diagnostic events in monthly tables it creates, queries and deletes; the function keeps the tenant-wide action budget (REVOKE_ACTION_BUDGET) in its own table, read and written with ETag conditions.'
  }
  {
    principal: 'function'
    role: 'storageQueueDataContributor'
    scope: 'queue'
    queue: requestQueueName
    why: 'The queue trigger receives, deletes and, when an invocation fails, updates request messages (visibility timeout: messages/write); the scaler reads the queue length.'
  }
  {
    principal: 'function'
    role: 'storageQueueDataContributor'
    scope: 'queue'
    queue: poisonQueueName
    why: 'The poison output binding and the trigger add rejected messages, and re-create the poison queue if it was deleted.'
  }
  {
    principal: 'function'
    role: 'monitoringMetricsPublisher'
    scope: 'appInsights'
    why: 'Entra-authenticated telemetry, since local auth is off on Application Insights.'
  }
  {
    principal: 'bridge'
    role: 'storageQueueDataMessageSender'
    scope: 'queue'
    queue: requestQueueName
    why: 'The Sentinel bridge adds incidents to the request queue and can do nothing else.'
  }
  {
    principal: 'sentinel'
    role: 'microsoftSentinelAutomationContributor'
    scope: 'resourceGroup'
    why: 'Sentinel automation rules may run playbooks in this resource group only.'
  }
]

// Rows whose principal is absent (bridge not deployed, Sentinel grant not wanted) drop out.
var activeGrants = filter(grants, grant => !empty(principals[grant.principal]))
var storageGrants = filter(activeGrants, grant => grant.scope == 'storage')
var queueGrants = filter(activeGrants, grant => grant.scope == 'queue')
var appInsightsGrants = filter(activeGrants, grant => grant.scope == 'appInsights')
var resourceGroupGrants = filter(activeGrants, grant => grant.scope == 'resourceGroup')

resource storageAccount 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource queues 'Microsoft.Storage/storageAccounts/queueServices/queues@2023-05-01' existing = [
  for grant in queueGrants: {
    name: '${storageAccountName}/default/${grant.queue}'
  }
]

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: applicationInsightsName
}

resource storageAssignments 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for grant in storageGrants: {
    name: guid(storageAccount.id, principals[grant.principal], roles[grant.role])
    scope: storageAccount
    properties: {
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles[grant.role])
      principalId: principals[grant.principal]
      principalType: 'ServicePrincipal'
      description: grant.why
    }
  }
]

resource queueAssignments 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for (grant, i) in queueGrants: {
    name: guid(queues[i].id, principals[grant.principal], roles[grant.role])
    scope: queues[i]
    properties: {
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles[grant.role])
      principalId: principals[grant.principal]
      principalType: 'ServicePrincipal'
      description: grant.why
    }
  }
]

resource appInsightsAssignments 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for grant in appInsightsGrants: {
    name: guid(applicationInsights.id, principals[grant.principal], roles[grant.role])
    scope: applicationInsights
    properties: {
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles[grant.role])
      principalId: principals[grant.principal]
      principalType: 'ServicePrincipal'
      description: grant.why
    }
  }
]

resource resourceGroupAssignments 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for grant in resourceGroupGrants: {
    name: guid(resourceGroup().id, principals[grant.principal], roles[grant.role])
    properties: {
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles[grant.role])
      principalId: principals[grant.principal]
      principalType: 'ServicePrincipal'
      description: grant.why
    }
  }
]
