// The service principal Microsoft Sentinel runs playbooks as ("Azure Security Insights"), looked up
// in Entra so app/rbac.bicep can let it run the bridge. It only reads: nothing in Entra changes.
extension microsoftGraphV1

// First-party application behind Microsoft Sentinel automation.
var azureSecurityInsightsAppId = '98785600-1bb7-4fb9-b9fa-19afe2c8a360'

resource azureSecurityInsights 'Microsoft.Graph/servicePrincipals@v1.0' existing = {
  appId: azureSecurityInsightsAppId
}

output principalId string = azureSecurityInsights.id
