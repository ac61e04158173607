// The Sentinel bridge: a playbook (Logic App) whose Microsoft Sentinel incident trigger hands the
// incident to the function by adding it to the request queue. It holds no secret: the Sentinel
// connection and the queue call both use the Logic App's system-assigned identity, whose only
// role is Storage Queue Data Message Sender on the request queue (app/rbac.bicep).

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
    }
    definition: {
      '$schema': 'https://schema.management.azure.com/providers/Microsoft.Logic/schemas/2016-06-01/workflowdefinition.json#'
      contentVersion: '1.0.0.0'
      parameters: {
        '$connections': {
          type: 'Object'
          defaultValue: {}
        }
      }
      triggers: {
        Microsoft_Sentinel_incident: {
          type: 'ApiConnectionWebhook'
          inputs: {
            host: {
              connection: {
                name: '@parameters(\'$connections\')[\'azuresentinel\'][\'connectionId\']'
              }
            }
            body: {
              callback_url: '@{listCallbackUrl()}'
            }
            path: '/incident-creation'
          }
        }
      }
      actions: {
        // Queue Storage REST "Put Message" with an Entra token. The incident JSON goes in as
        // base64, so nothing in it needs XML escaping; the function accepts base64 of JSON.
        // A message may hold 64 KiB, so an incident body above about 48 KiB fails here and
        // shows as a failed run of the playbook.
        Put_incident_on_request_queue: {
          type: 'Http'
          runAfter: {}
          inputs: {
            method: 'POST'
            uri: '${storageAccount.properties.primaryEndpoints.queue}${requestQueueName}/messages'
            headers: {
              'x-ms-version': '2021-12-02'
              'Content-Type': 'application/xml'
            }
            body: '<QueueMessage><MessageText>@{base64(string(triggerBody()))}</MessageText></QueueMessage>'
            authentication: {
              type: 'ManagedServiceIdentity'
              audience: 'https://storage.azure.com/'
            }
          }
        }
      }
      outputs: {}
    }
  }
}

output name string = playbook.name
output resourceId string = playbook.id
output principalId string = playbook.identity.principalId
