// Monitoring Metrics Publisher on the audit table's data collection rule for the function identity,
// so it may send its audit events through the Logs Ingestion API. Deployed into the rule's resource
// group (the workspace's, which may be in another subscription). Kept out of app/audit-workspace.bicep
// because nothing waits for it: a deployer without the right to assign roles there still gets a
// working app, whose deliveries are refused (a warning, and health says so) until the role is
// assigned by hand (docs/DEPLOY.md). Azure may take up to 30 minutes to apply a new assignment.

@description('Name of the audit table\'s data collection rule, in this resource group.')
param ruleName string

@description('Object id of the function identity.')
param principalId string

// Its data action Microsoft.Insights/Telemetry/Write lets a principal send to a data collection rule
// (Logs Ingestion API in Azure Monitor, "Configuration"; Azure built-in roles reference, Monitor).
var monitoringMetricsPublisher = '3913510d-42f4-4e42-8a64-420c390055eb'

resource rule 'Microsoft.Insights/dataCollectionRules@2023-03-11' existing = {
  name: ruleName
}

resource auditPublisher 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(rule.id, principalId, monitoringMetricsPublisher)
  scope: rule
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', monitoringMetricsPublisher)
    principalId: principalId
    principalType: 'ServicePrincipal'
    description: 'Audit events: the Logs Ingestion API needs Microsoft.Insights/Telemetry/Write on the rule.'
  }
}
