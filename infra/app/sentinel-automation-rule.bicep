// The Microsoft Sentinel automation rule that runs the bridge playbook when an incident from one
// of the named analytics rules is created. Deployed into the Sentinel workspace's resource group.
// Sentinel can run the playbook only if its service principal holds Microsoft Sentinel
// Automation Contributor on the playbook's resource group (grantSentinelPlaybookPermission).

param workspaceName string
param playbookResourceId string
param environmentName string

@minLength(1)
@description('Full resource ids of the analytics rules whose incidents start a revocation.')
param analyticRuleIds array

resource workspace 'Microsoft.OperationalInsights/workspaces@2023-09-01' existing = {
  name: workspaceName
}

resource automationRule 'Microsoft.SecurityInsights/automationRules@2023-02-01' = {
  scope: workspace
  // Automation rule names must be GUIDs; this one is stable per environment and playbook.
  name: guid(workspace.id, environmentName, playbookResourceId)
  properties: {
    displayName: 'Revoke sessions of compromised users (${environmentName})'
    order: 100
    triggeringLogic: {
      isEnabled: true
      triggersOn: 'Incidents'
      triggersWhen: 'Created'
      // Only incidents from the listed rules: revoking sessions is disruptive, so it never
      // runs for every incident in the workspace.
      conditions: [
        {
          conditionType: 'Property'
          conditionProperties: {
            propertyName: 'IncidentRelatedAnalyticRuleIds'
            operator: 'Contains'
            propertyValues: analyticRuleIds
          }
        }
      ]
    }
    actions: [
      {
        order: 1
        actionType: 'RunPlaybook'
        actionConfiguration: {
          logicAppResourceId: playbookResourceId
          tenantId: tenant().tenantId
        }
      }
    ]
  }
}

output name string = automationRule.name
