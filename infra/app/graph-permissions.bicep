// Microsoft Graph application roles for the function's identity, granted as infrastructure.
// Deploying this needs an Entra role that may grant Graph app roles (Privileged Role
// Administrator); without it, turn the grants off and use infra/scripts/grant-graph-permissions.sh.
// Nothing else in the deployment depends on this module and it has no outputs: a grant that fails
// (Entra may not yet know an identity created seconds earlier: "Not a valid reference update")
// fails this module alone, and running `azd provision` again retries it.
extension microsoftGraphV1

@description('Object id of the function identity service principal.')
param principalId string

param grantRevokePermission bool
param grantReadPermission bool

var microsoftGraphAppId = '00000003-0000-0000-c000-000000000000'

// Application role ids of Microsoft Graph, as published in the Microsoft Graph permissions reference.
var graphAppRoles = {
  // POST /users/{id}/revokeSignInSessions, and nothing else: the least privilege for revocation
  // (User.ReadWrite.All and Directory.ReadWrite.All would also allow editing every user).
  'User.RevokeSessions.All': '77f3a031-c388-4f99-b373-dc68676a979e'
  // GET /users/{id}?$select=id,userPrincipalName for the protected-users guardrail. The basic
  // profile (id, userPrincipalName, displayName, mail, ...) is all it reads; User.Read.All is not needed.
  'User.ReadBasic.All': '97235f07-e226-4f63-ace3-39588e11d3a1'
}

resource microsoftGraph 'Microsoft.Graph/servicePrincipals@v1.0' existing = if (grantRevokePermission || grantReadPermission) {
  appId: microsoftGraphAppId
}

resource revokeSessions 'Microsoft.Graph/appRoleAssignedTo@v1.0' = if (grantRevokePermission) {
  resourceId: microsoftGraph.id
  appRoleId: graphAppRoles['User.RevokeSessions.All']
  principalId: principalId
}

resource readBasicProfiles 'Microsoft.Graph/appRoleAssignedTo@v1.0' = if (grantReadPermission) {
  resourceId: microsoftGraph.id
  appRoleId: graphAppRoles['User.ReadBasic.All']
  principalId: principalId
}
