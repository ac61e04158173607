// Microsoft Graph application roles for the function's identity, granted as infrastructure: the
// roles of the containment actions the deployment allows (REVOKE_ACTIONS), of the release actions
// it allows (REVOKE_RELEASE_ACTIONS, none by default), and the basic read for the look-ups. Deploying this needs an Entra role that may grant Graph app roles (Privileged Role
// Administrator); without it, turn the grants off and use infra/scripts/grant-graph-permissions.sh.
// Nothing else in the deployment depends on this module and it has no outputs: a grant that fails
// (Entra may not yet know an identity created seconds earlier: "Not a valid reference update")
// fails this module alone, and running `azd provision` again retries it.
extension microsoftGraphV1

@description('Object id of the function identity service principal.')
param principalId string

@description('The containment actions the deployment allows (REVOKE_ACTIONS), trimmed and in lower case.')
param actions array

@description('The release actions the deployment allows (REVOKE_RELEASE_ACTIONS), trimmed and in lower case; none by default.')
param releaseActions array = []

@description('Grant the app roles of the actions in `actions` and `releaseActions`.')
param grantActionPermissions bool

@description('Grant User.ReadBasic.All for the look-ups.')
param grantReadPermission bool

@description('Grant the read roles mass containment campaigns need to list a group, a directory role or every user (REVOKE_CAMPAIGNS).')
param grantCampaignPermissions bool = false

var microsoftGraphAppId = '00000003-0000-0000-c000-000000000000'

// Application role ids of Microsoft Graph, as published in the Microsoft Graph permissions reference.
var graphAppRoles = {
  'User.RevokeSessions.All': '77f3a031-c388-4f99-b373-dc68676a979e'
  'User.EnableDisableAccount.All': '3011c876-62b7-4ada-afa2-506cbbecc68c'
  'User.Read.All': 'df021288-bdef-4463-88db-98f22de89214'
  'IdentityRiskyUser.ReadWrite.All': '656f6061-f9fe-4807-9708-6a2e0934df76'
  'User.ReadBasic.All': '97235f07-e226-4f63-ace3-39588e11d3a1'
  'GroupMember.Read.All': '98830695-27a2-44f7-8c18-0c3ebc9698f6'
  'RoleManagement.Read.Directory': '483bed4a-2ad3-4361-a73b-c83ccdbdc53c'
}

// Every app role this module may grant, when, and why. The action roles are the least privilege
// the Graph reference documents for each call (revoke/actions.py holds the same list); none of
// them allows editing a user's profile (User.ReadWrite.All and Directory.ReadWrite.All would).
var grants = [
  {
    role: 'User.RevokeSessions.All'
    wanted: grantActionPermissions && contains(actions, 'revokesigninsessions')
    why: 'revokeSignInSessions: POST /users/{id}/revokeSignInSessions, and nothing else.'
  }
  {
    role: 'User.EnableDisableAccount.All'
    wanted: grantActionPermissions && (contains(actions, 'disableaccount') || contains(releaseActions, 'enableaccount'))
    why: 'disableAccount and the release enableAccount: PATCH /users/{id} with accountEnabled false or true; it may change no other property.'
  }
  {
    role: 'User.Read.All'
    wanted: (grantActionPermissions && (contains(actions, 'disableaccount') || contains(releaseActions, 'enableaccount'))) || grantCampaignPermissions
    why: 'disableAccount, enableAccount: Update user documents User.EnableDisableAccount.All plus User.Read.All as the least privilege for accountEnabled. Campaigns: the accountEnabled and userType of every listed user, and GET /users for allUsers.'
  }
  {
    role: 'IdentityRiskyUser.ReadWrite.All'
    wanted: grantActionPermissions && (contains(actions, 'confirmcompromised') || contains(releaseActions, 'dismissrisk'))
    why: 'confirmCompromised and the release dismissRisk: POST /identityProtection/riskyUsers/confirmCompromised or /dismiss (Microsoft Entra ID P2).'
  }
  {
    role: 'GroupMember.Read.All'
    wanted: grantCampaignPermissions
    why: 'Campaigns, scope group: GET /groups/{id}/transitiveMembers/microsoft.graph.user (reads memberships, not group settings).'
  }
  {
    role: 'RoleManagement.Read.Directory'
    wanted: grantCampaignPermissions
    why: 'Campaigns, scope directoryRole: GET /directoryRoles(roleTemplateId={id})/members (active assignments; PIM-eligible ones are not read).'
  }
  {
    role: 'User.ReadBasic.All'
    wanted: grantReadPermission
    why: 'GET /users/{id}?$select=id,userPrincipalName: the protected-users guardrail, guests, and the object id confirmCompromised needs for a UPN.'
  }
]

var wantedGrants = filter(grants, grant => grant.wanted)

resource microsoftGraph 'Microsoft.Graph/servicePrincipals@v1.0' existing = if (!empty(wantedGrants)) {
  appId: microsoftGraphAppId
}

resource appRoleAssignments 'Microsoft.Graph/appRoleAssignedTo@v1.0' = [
  for grant in wantedGrants: {
    resourceId: microsoftGraph.id
    appRoleId: graphAppRoles[grant.role]
    principalId: principalId
  }
]
