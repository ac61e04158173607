// The check after the next directory sync (revoke/containment/verification.py), deployed unless
// REVOKE_VERIFY_AFTER_SECONDS is off: the verify queue and its poison queue, and the function
// identity's data roles on exactly those, from one table like app/campaigns.bicep. A containment
// that disabled someone puts a message there, invisible until the check is due; the queue trigger
// reads it then.

param storageAccountName string
param verifyQueueName string
param functionPrincipalId string

var roles = {
  storageQueueDataContributor: '974c5e8b-45b9-4653-ba55-5f855dd0fb88'
  storageQueueDataMessageSender: 'c6a89b2d-59bc-44d0-9896-0f6e12d7b80a'
}

var queueGrants = [
  {
    queue: verifyQueueName
    role: 'storageQueueDataMessageSender'
    why: 'A containment that disabled someone schedules its check with send_message(visibility_timeout): the message waits out the next directory sync.'
  }
  {
    queue: verifyQueueName
    role: 'storageQueueDataContributor'
    why: 'The verify queue trigger receives, deletes and, when a read may pass, updates check messages (visibility timeout: messages/write); the scaler reads the queue length.'
  }
  {
    queue: '${verifyQueueName}-poison'
    role: 'storageQueueDataContributor'
    why: 'The trigger moves a message past maxDequeueCount to the poison queue for a person to look at.'
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
  for queueName in [verifyQueueName, '${verifyQueueName}-poison']: {
    parent: queueService
    name: queueName
  }
]

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

output verifyQueueName string = queues[0].name
