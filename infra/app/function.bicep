// The function app on the Flex Consumption plan (FC1), Python 3.11, running as the
// user-assigned identity for storage, telemetry and Microsoft Graph.

param name string
param planName string
param location string
param tags object
param identityId string
param identityClientId string
param storageAccountName string
param deploymentContainerName string
param applicationInsightsName string

@description('The REVOKE_* settings, built in main.bicep from its parameters.')
param appSettings object

@description('Upper bound on instances; it also bounds how hard the app can push Microsoft Graph.')
@minValue(1)
@maxValue(1000)
param maximumInstanceCount int = 40

@allowed([
  2048
  4096
])
param instanceMemoryMB int = 2048

// Every app setting of the site, written by the `appsettings` config resource below. It holds a
// runtime value (the Application Insights connection string), so it must never feed a for-expression:
// a loop's array has to be known when the deployment starts (BCP178).
var allAppSettings = union(appSettings, {
  // Identity-based host storage: no connection string, no key. The queue trigger and the
  // poison output binding use the same "AzureWebJobsStorage" connection.
  AzureWebJobsStorage__accountName: storageAccount.name
  AzureWebJobsStorage__credential: 'managedidentity'
  AzureWebJobsStorage__clientId: identityClientId
  // Telemetry with an Entra token; the key in the connection string is refused (local auth off).
  APPLICATIONINSIGHTS_CONNECTION_STRING: applicationInsights.properties.ConnectionString
  APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'ClientId=${identityClientId};Authorization=AAD'
  // azure-identity picks this identity for Microsoft Graph tokens.
  AZURE_CLIENT_ID: identityClientId
})

resource storageAccount 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: applicationInsightsName
}

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  // checkov:skip=CKV_AZURE_225: Zone redundancy for Flex Consumption is available in some regions only and bills always-ready instances; a deployer who needs it enables it per region.
  name: planName
  location: location
  tags: tags
  kind: 'functionapp'
  sku: {
    name: 'FC1'
    tier: 'FlexConsumption'
  }
  properties: {
    reserved: true // Linux
  }
}

resource site 'Microsoft.Web/sites@2024-04-01' = {
  // checkov:skip=CKV_AZURE_222: The HTTP endpoint is called by SOC tooling outside Azure; it stays reachable over HTTPS only, behind a function key and an Entra ID token the function validates itself.
  // checkov:skip=CKV_AZURE_17: Callers authenticate with the function key; requiring client certificates would force every caller to hold one.
  // checkov:skip=CKV_AZURE_212: Flex Consumption scales from zero on HTTP and queue load; always-ready instances are a cost choice left to the deployer.
  // checkov:skip=CKV_AZURE_213: GET /api/health exists but needs the function key, which the platform health check does not send (it would read 401 as unhealthy); an anonymous health route would be another public route.
  name: name
  location: location
  tags: tags
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identityId}': {}
    }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    clientCertEnabled: false
    siteConfig: {
      minTlsVersion: '1.2'
      scmMinTlsVersion: '1.2'
      ftpsState: 'Disabled'
      http20Enabled: true
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${storageAccount.properties.primaryEndpoints.blob}${deploymentContainerName}'
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identityId
          }
        }
      }
      scaleAndConcurrency: {
        maximumInstanceCount: maximumInstanceCount
        instanceMemoryMB: instanceMemoryMB
      }
      runtime: {
        name: 'python'
        version: '3.11'
      }
    }
  }
}

// The app settings as one object: `Microsoft.Web/sites/config` named `appsettings` replaces the
// whole set on every deployment, so a setting removed here disappears from the app too. Flex
// Consumption sets FUNCTIONS_WORKER_RUNTIME and FUNCTIONS_EXTENSION_VERSION itself (from
// functionAppConfig.runtime); they must not appear here.
resource siteAppSettings 'Microsoft.Web/sites/config@2024-04-01' = {
  // checkov applies its checks for the `web` config to every Microsoft.Web/sites/config; this one is `appsettings`, which has none of the properties they read.
  // checkov:skip=CKV_AZURE_63: HTTP logging is a property of the web config, not of app settings; the function logs to Application Insights.
  // checkov:skip=CKV_AZURE_65: Detailed error pages are a property of the web config, not of app settings; the app serves JSON errors only.
  // checkov:skip=CKV_AZURE_66: Failed request tracing is a property of the web config, not of app settings; requests are traced in Application Insights.
  // checkov:skip=CKV_AZURE_13: App Service Authentication is not offered on Flex Consumption; the function validates each caller's Entra ID token itself (REVOKE_CALLER_AUTH, docs/DEPLOY.md).
  // checkov:skip=CKV_AZURE_80: .NET Framework version does not apply: a Python 3.11 app whose runtime is set in functionAppConfig.runtime.
  // checkov:skip=CKV_AZURE_88: Flex Consumption has no Azure Files content share; the package comes from the blob deployment container.
  // checkov:skip=CKV_AZURE_222: Public network access is a site property, skipped on the site with its reason; app settings cannot change it.
  parent: site
  name: 'appsettings'
  properties: allAppSettings
}

// Publishing with user names and passwords is off, for FTP and for the SCM (Kudu) site alike;
// azd deploys with Entra credentials.
resource basicPublishingCredentials 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = [
  for policy in ['ftp', 'scm']: {
    parent: site
    name: policy
    properties: {
      allow: false
    }
  }
]

output name string = site.name
output url string = 'https://${site.properties.defaultHostName}'
