// The function's storage account: host state and the deployment package (blob), the request
// queue and its poison queue. Only Entra identities get in: shared keys and anonymous reads are off.

param name string
param location string
param tags object
param requestQueueName string
param deploymentContainerName string

resource account 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  // checkov:skip=CKV_AZURE_35: The Flex Consumption app has no virtual network here and the bridge Logic App calls from shared outbound addresses, so the firewall stays open; every caller still needs an Entra token and a data role.
  // checkov:skip=CKV_AZURE_59: Public network access stays on for the reason above; anonymous access is off (allowBlobPublicAccess: false) and shared keys are off.
  // checkov:skip=CKV_AZURE_206: Locally redundant storage is enough for a work queue and host state; zone-redundant storage is not offered in every region that has Flex Consumption.
  name: name
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: {
    name: 'Standard_LRS'
  }
  properties: {
    accessTier: 'Hot'
    allowBlobPublicAccess: false
    // Shared keys off: the host, the bindings, the deployment and the bridge all use identities.
    allowSharedKeyAccess: false
    allowCrossTenantReplication: false
    defaultToOAuthAuthentication: true
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      bypass: 'AzureServices'
      defaultAction: 'Allow'
    }
  }
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  parent: account
  name: 'default'
  properties: {
    deleteRetentionPolicy: {
      enabled: true
      days: 7
    }
    containerDeleteRetentionPolicy: {
      enabled: true
      days: 7
    }
  }
}

// Flex Consumption deploys the code package into this container with the function's identity.
resource deploymentContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: deploymentContainerName
  properties: {
    publicAccess: 'None'
  }
}

resource queueService 'Microsoft.Storage/storageAccounts/queueServices@2023-05-01' = {
  parent: account
  name: 'default'
}

// Both queues exist before the app starts, so neither the trigger nor the poison output
// binding ever needs the right to create a queue.
resource queues 'Microsoft.Storage/storageAccounts/queueServices/queues@2023-05-01' = [
  for queueName in [requestQueueName, '${requestQueueName}-poison']: {
    parent: queueService
    name: queueName
  }
]

output name string = account.name
output deploymentContainerName string = deploymentContainer.name
output requestQueueName string = queues[0].name
output poisonQueueName string = queues[1].name
