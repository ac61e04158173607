// The audit trail where the SOC looks: the custom table ContainmentAudit_CL in a Log Analytics
// workspace (the Sentinel workspace when one is named, else the app's own), the data collection
// rule of kind Direct whose logsIngestion endpoint the function and the CLI send every audit event
// to, and a workbook over the table. Deployed into the workspace's resource group, which may be in
// another subscription; the rule is in the workspace's region, as it must be (Logs Ingestion API in
// Azure Monitor, "Data collection rule": region). The role that lets the function send is
// app/audit-publisher.bicep's, which nothing waits for (main.bicep says why).
//
// Resource types and API versions as Azure/bicep-types-az publishes them:
// Microsoft.OperationalInsights/workspaces/tables@2023-09-01, Microsoft.Insights/dataCollectionRules@2023-03-11
// (the first version with kind Direct and properties.endpoints.logsIngestion), Microsoft.Insights/workbooks@2023-06-01,
// and, in app/audit-publisher.bicep, Microsoft.Authorization/roleAssignments@2022-04-01.

@description('Name of the Log Analytics workspace, in this resource group, that gets the table.')
param workspaceName string

@description('Name of the data collection rule.')
param ruleName string

@description('Workbook category: sentinel shows it in Microsoft Sentinel, workbook in Azure Monitor.')
@allowed([
  'sentinel'
  'workbook'
])
param workbookCategory string = 'workbook'

param tags object = {}

// The stream the events are sent as (REVOKE_AUDIT_STREAM's default) and the table it feeds.
var tableName = 'ContainmentAudit_CL'
var streamName = 'Custom-${tableName}'
// The audit event's fields as the stream declares them, by the same names: written from the audit
// event schema (revoke/audit/audit_event.schema.json), which tests/infra checks them against.
var eventColumns = loadJsonContent('audit-columns.json')
// The table's columns: TimeGenerated, which every table must have, and the event's own. Both a table
// and a stream declaration take the type dateTime (Add or delete tables and columns in Azure Monitor
// Logs, its table and DCR examples).
var tableColumns = concat(
  [
    {
      name: 'TimeGenerated'
      type: 'dateTime'
    }
  ],
  eventColumns
)

resource workspace 'Microsoft.OperationalInsights/workspaces@2023-09-01' existing = {
  name: workspaceName
}

resource table 'Microsoft.OperationalInsights/workspaces/tables@2023-09-01' = {
  parent: workspace
  name: tableName
  properties: {
    plan: 'Analytics'
    schema: {
      name: tableName
      description: 'One row per audit event of the containment function: revoke/audit/audit_event.schema.json.'
      columns: tableColumns
    }
  }
}

resource rule 'Microsoft.Insights/dataCollectionRules@2023-03-11' = {
  name: ruleName
  location: workspace.location
  tags: tags
  kind: 'Direct'
  properties: {
    description: 'The containment function\'s audit events, sent through the Logs Ingestion API, into ${tableName}.'
    streamDeclarations: {
      '${streamName}': {
        columns: eventColumns
      }
    }
    destinations: {
      logAnalytics: [
        {
          name: 'auditWorkspace'
          workspaceResourceId: workspace.id
        }
      ]
    }
    dataFlows: [
      {
        streams: [
          streamName
        ]
        destinations: [
          'auditWorkspace'
        ]
        // TimeGenerated is when the service acted (the event's own time), not when it arrived.
        transformKql: 'source | extend TimeGenerated = todatetime(["time"])'
        outputStream: streamName
      }
    ]
  }
  dependsOn: [
    table
  ]
}

resource workbook 'Microsoft.Insights/workbooks@2023-06-01' = {
  name: guid(workspace.id, ruleName, 'containment-audit-workbook')
  location: workspace.location
  tags: tags
  kind: 'shared'
  properties: {
    displayName: 'Containment audit'
    category: workbookCategory
    version: 'Notebook/1.0'
    sourceId: workspace.id
    // The panels' queries run against the workspace: the same text as docs/kql (tests/test_kql_docs.py).
    serializedData: replace(loadTextContent('audit-workbook.json'), 'WORKSPACE_RESOURCE_ID', workspace.id)
  }
}

@description('The rule\'s logsIngestion endpoint: REVOKE_AUDIT_DCR_ENDPOINT.')
output logsIngestionEndpoint string = rule.properties.endpoints.logsIngestion

@description('The rule\'s immutable id: REVOKE_AUDIT_DCR_ID.')
output immutableId string = rule.properties.immutableId

@description('The stream the events are sent as: REVOKE_AUDIT_STREAM.')
output streamName string = streamName

@description('The rule\'s name, for app/audit-publisher.bicep.')
output ruleName string = rule.name

output tableName string = tableName
