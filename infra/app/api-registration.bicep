// The API's own Microsoft Entra app registration: what callers ask a token for, and the app roles
// that say which containment actions each may ask for (revoke/policy/callers.py checks them in
// every request). Its service principal requires an assignment, so only the callers listed in
// `callers` (a SOAR's app registration, a Logic App's or automation's managed identity) get a
// token carrying a role; they are assigned here, as code. Deploying this needs an Entra role that
// may create applications and assign app roles (Cloud Application Administrator, or Application
// Administrator); see docs/DEPLOY.md, "Callers".
extension microsoftGraphV1

@description('Unique name of the registration in the tenant (idempotent: the same name updates the same app).')
param uniqueName string

@description('Display name shown in Enterprise applications and in the callers\' consent.')
param displayName string

@description('Callers and their app roles: [{ principalId: <service principal object id>, roles: [\'Containment.Revoke\', ...] }].')
param callers array

// App role ids are fixed once and never change: a token's `roles` claim carries the value, and
// an assignment holds the id, so a new id would silently drop every caller's assignment.
var appRoles = [
  {
    value: 'Containment.Revoke'
    id: '0a2334db-8c7c-44ca-b3fc-e361116cefef'
    displayName: 'Revoke sign-in sessions'
    description: 'Ask the containment function to revoke a user\'s sign-in sessions (revokeSignInSessions).'
  }
  {
    value: 'Containment.Disable'
    id: '77d4289d-ce42-4332-89e9-ca507b242804'
    displayName: 'Disable accounts'
    description: 'Ask the containment function to disable a user account (disableAccount).'
  }
  {
    value: 'Containment.ConfirmCompromised'
    id: 'ef66bdc1-97b2-464a-aac5-74a986fdc441'
    displayName: 'Confirm users compromised'
    description: 'Ask the containment function to confirm a user compromised in Identity Protection (confirmCompromised).'
  }
  {
    value: 'Containment.Release'
    id: '4201d841-2702-401c-94b3-2e4a68f3e050'
    displayName: 'Release contained users'
    description: 'Ask the containment function to release (re-enable) a user it contained.'
  }
  {
    value: 'Containment.Campaign'
    id: '06de4ae7-50be-4331-a86e-6a26d7f2f5e4'
    displayName: 'Run containment campaigns'
    description: 'Ask the containment function to contain many users in a paced campaign.'
  }
]

var roleIds = toObject(appRoles, role => role.value, role => role.id)

// One row per (caller, role), from the `callers` parameter: known when the deployment starts.
var assignments = flatten(map(callers, caller => map(caller.roles, role => {
  principalId: caller.principalId
  role: role
})))

resource api 'Microsoft.Graph/applications@v1.0' = {
  uniqueName: uniqueName
  displayName: displayName
  signInAudience: 'AzureADMyOrg'
  // api://{tenant id}/{name}: Entra accepts a tenant-id URI without a verified domain, and it is
  // known before the app exists (api://{appId} is not).
  identifierUris: [
    'api://${tenant().tenantId}/${uniqueName}'
  ]
  api: {
    // v2.0 tokens: `iss` is {authority}/{tenant}/v2.0 and `aud` the client id, as the function checks.
    requestedAccessTokenVersion: 2
  }
  appRoles: [
    for role in appRoles: {
      id: role.id
      value: role.value
      displayName: role.displayName
      description: role.description
      allowedMemberTypes: [
        'Application'
      ]
      isEnabled: true
    }
  ]
}

resource servicePrincipal 'Microsoft.Graph/servicePrincipals@v1.0' = {
  appId: api.appId
  // Without an assignment no token is issued for the API, so an unlisted app in the tenant cannot
  // even obtain a role-less token.
  appRoleAssignmentRequired: true
}

resource callerAssignments 'Microsoft.Graph/appRoleAssignedTo@v1.0' = [
  for assignment in assignments: {
    resourceId: servicePrincipal.id
    appRoleId: roleIds[assignment.role]
    principalId: assignment.principalId
  }
]

output appId string = api.appId
output identifierUri string = 'api://${tenant().tenantId}/${uniqueName}'
