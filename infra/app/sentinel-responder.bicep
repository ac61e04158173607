// Microsoft Sentinel Responder for the function identity on the Sentinel workspace, so it can
// comment on the incident a request names. Deployed into the workspace's resource group, which
// may be in another subscription: a role assignment is deployed at the scope it applies to.
// Kept out of app/rbac.bicep because the app must not wait for it (main.bicep says why).

param workspaceName string

@description('Object id of the function identity.')
param principalId string

// The built-in role with the fewest rights that still holds
// Microsoft.SecurityInsights/incidents/comments/write (through incidents/*): Microsoft Sentinel
// Reader cannot write, Microsoft Sentinel Contributor may change the whole Sentinel configuration.
// Responder also lets the identity update incidents, edit automation rules and run playbooks on
// entities; its notActions take out deleting comments and other parts of incidents
// (incidents/*/Delete). Azure built-in roles reference, Security.
var microsoftSentinelResponder = '3e150937-b8fe-4cfb-8069-0eaf05ecd056'

resource workspace 'Microsoft.OperationalInsights/workspaces@2023-09-01' existing = {
  name: workspaceName
}

resource incidentComments 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(workspace.id, principalId, microsoftSentinelResponder)
  scope: workspace
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', microsoftSentinelResponder)
    principalId: principalId
    principalType: 'ServicePrincipal'
    description: 'Incident comments: PUT {incident}/comments/{id} needs Microsoft.SecurityInsights/incidents/comments/write.'
  }
}
