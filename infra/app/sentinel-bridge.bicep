// The Sentinel bridge: a playbook (Logic App) whose Microsoft Sentinel incident trigger hands the
// incident to the function by adding it to the request queue. It holds no secret: the Sentinel
// connection and the queue call both use the Logic App's system-assigned identity, whose only
// role is Storage Queue Data Message Sender on the request queue (app/rbac.bicep).
//
// The workflow itself is sentinel-bridge.workflow.json, so tests/test_sentinel_bridge_message.py
// can run its expressions. A queue message holds at most 64 KiB, and an incident with many
// alerts and entities is larger, so the workflow sends only what the function reads, in the
// incident trigger's own shape: the incident id, number and title, and its Account entities
// (the `Account_entities` filter, then `Incident_for_the_function`). The message text is base64
// of that JSON, so nothing in it needs XML escaping; the function accepts base64 of JSON.

param name string
param location string
param tags object
param storageAccountName string
param requestQueueName string

resource storageAccount 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

// The Microsoft Sentinel managed connector, authenticated as the Logic App's identity
// ("Alternative" parameter values = managed identity, no signed-in user behind it).
resource sentinelConnection 'Microsoft.Web/connections@2016-06-01' = {
  name: '${name}-azuresentinel'
  location: location
  tags: tags
  kind: 'V1'
  properties: {
    displayName: '${name} (managed identity)'
    parameterValueType: 'Alternative'
    api: {
      id: subscriptionResourceId('Microsoft.Web/locations/managedApis', location, 'azuresentinel')
    }
  }
}

resource playbook 'Microsoft.Logic/workflows@2019-05-01' = {
  name: name
  location: location
  tags: tags
  identity: {
    type: 'SystemAssigned'
  }
  properties: {
    state: 'Enabled'
    definition: loadJsonContent('sentinel-bridge.workflow.json')
    parameters: {
      '$connections': {
        value: {
          azuresentinel: {
            connectionId: sentinelConnection.id
            connectionName: sentinelConnection.name
            id: sentinelConnection.properties.api.id
            connectionProperties: {
              authentication: {
                type: 'ManagedServiceIdentity'
              }
            }
          }
        }
      }
      // Queue Storage REST "Put Message", called with an Entra token for https://storage.azure.com/.
      requestQueueMessagesUri: {
        value: '${storageAccount.properties.primaryEndpoints.queue}${requestQueueName}/messages'
      }
    }
  }
}

output name string = playbook.name
output resourceId string = playbook.id
output principalId string = playbook.identity.principalId
