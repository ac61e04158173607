// Mass containment campaigns (docs/CAMPAIGNS.md), deployed only when REVOKE_CAMPAIGNS is on: the
// campaign queue and its poison queue, the campaign table, and the function identity's data roles
// on exactly those, from one table like app/rbac.bicep. The host's own account-wide table role
// (app/rbac.bicep) is for its diagnostic events; the campaign's rows get a role of their own, so
// narrowing the host's role never breaks a running campaign.

param storageAccountName string
param campaignQueueName string
param functionPrincipalId string

@description('The table the campaign state lives in (revoke/campaigns/store.py TABLE_NAME).')
param campaignTableName string = 'revokecampaigns'

var roles = {
  storageQueueDataContributor: '974c5e8b-45b9-4653-ba55-5f855dd0fb88'
  storageQueueDataMessageSender: 'c6a89b2d-59bc-44d0-9896-0f6e12d7b80a'
  storageTableDataContributor: '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'
}

var queueGrants = [
  {
    queue: campaignQueueName
    role: 'storageQueueDataMessageSender'
    why: 'The campaign engine puts pages, chunks and the finishing check on the campaign queue with send_message(visibility_timeout): the pace lives in those delays.'
  }
  {
    queue: campaignQueueName
    role: 'storageQueueDataContributor'
    why: 'The campaign queue trigger receives, deletes and, when an invocation fails, updates campaign messages (visibility timeout: messages/write); the scaler reads the queue length.'
  }
  {
    queue: '${campaignQueueName}-poison'
    role: 'storageQueueDataContributor'
    why: 'The trigger moves a message past maxDequeueCount to the poison queue; the poison trigger reads it to report its targets failed.'
  }
]

var tableGrants = [
  {
    role: 'storageTableDataContributor'
    why: 'Campaign state: the campaign, page, chunk and target rows (upserts, ETag updates, queries), in this table only.'
  }
]

resource storageAccount 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource queueService 'Microsoft.Storage/storageAccounts/queueServices@2023-05-01' existing = {
  parent: storageAccount
  name: 'default'
}

resource queues 'Microsoft.Storage/storageAccounts/queueServices/queues@2023-05-01' = [
  for queueName in [campaignQueueName, '${campaignQueueName}-poison']: {
    parent: queueService
    name: queueName
  }
]

resource tableService 'Microsoft.Storage/storageAccounts/tableServices@2023-05-01' = {
  parent: storageAccount
  name: 'default'
}

resource table 'Microsoft.Storage/storageAccounts/tableServices/tables@2023-05-01' = {
  parent: tableService
  name: campaignTableName
}

resource grantedQueues 'Microsoft.Storage/storageAccounts/queueServices/queues@2023-05-01' existing = [
  for grant in queueGrants: {
    name: '${storageAccountName}/default/${grant.queue}'
  }
]

resource queueAssignments 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for (grant, i) in queueGrants: {
    name: guid(grantedQueues[i].id, functionPrincipalId, roles[grant.role])
    scope: grantedQueues[i]
    properties: {
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles[grant.role])
      principalId: functionPrincipalId
      principalType: 'ServicePrincipal'
      description: grant.why
    }
    dependsOn: [
      queues
    ]
  }
]

resource tableAssignments 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for grant in tableGrants: {
    name: guid(table.id, functionPrincipalId, roles[grant.role])
    scope: table
    properties: {
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles[grant.role])
      principalId: functionPrincipalId
      principalType: 'ServicePrincipal'
      description: grant.why
    }
  }
]

output campaignQueueName string = queues[0].name
output campaignTableName string = table.name
