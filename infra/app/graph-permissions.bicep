// Microsoft Graph application roles for the function's identity, granted as infrastructure: the
// roles of the containment actions the deployment allows (REVOKE_ACTIONS), of the release actions
// it allows (REVOKE_RELEASE_ACTIONS, none by default), and a read role for the look-ups: User.Read.All
// when revocation is the only containing action (it must tell external users apart, and userType,
// externalUserState, creationType and identities are not in the basic profile), otherwise
// User.ReadBasic.All unless User.Read.All, which includes it, is granted anyway; never both
// (revoke/app/readiness.py: KIND_ROLE, LOOKUP_ROLES). Protection by group or directory role
// (REVOKE_PROTECTED_GROUPS, REVOKE_PROTECTED_ROLES) reads memberships with checkMemberObjects, which
// Graph documents as needing User.ReadBasic.All and GroupMember.Read.All, or User.Read.All alone:
// GroupMember.Read.All is granted only when those settings are set and User.Read.All is not granted
// (readiness.py: MEMBERSHIP_ROLES); and Defender for Identity's two roles when the deployment takes
// Active Directory actions for synced users (REVOKE_ONPREM_ACTIONS, none by default).
// Deploying this needs an Entra role that may
// grant Graph app roles (Privileged Role Administrator); without it, turn the grants off and use
// infra/scripts/grant-graph-permissions.sh.
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

@description('The Active Directory actions the deployment takes through Defender for Identity (REVOKE_ONPREM_ACTIONS), trimmed and in lower case; none by default.')
param onpremActions array = []

@description('Grant the app roles of the actions in `actions`, `releaseActions` and `onpremActions`.')
param grantActionPermissions bool

@description('Grant a read role for the look-ups: User.Read.All when revocation is the only containing action, otherwise User.ReadBasic.All unless User.Read.All is granted anyway.')
param grantReadPermission bool

@description('Grant the read roles mass containment campaigns need to list a group, a directory role or every user (REVOKE_CAMPAIGNS).')
param grantCampaignPermissions bool = false

@description('Users are protected by group or directory role membership (REVOKE_PROTECTED_GROUPS or REVOKE_PROTECTED_ROLES names one): with grantReadPermission, the memberships are made readable.')
param protectionByMembership bool = false

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
  'SecurityIdentitiesAccount.Read.All': 'c5bc96f5-b4a1-4cfc-8189-d5f0d772278f'
  'SecurityIdentitiesActions.ReadWrite.All': 'af2bf46f-7bf1-4be3-8bad-e17e279e8462'
}

// Revocation is the only containing action (revocation_alone in revoke/containment/action_run.py):
// telling an external user from a member then needs properties only User.Read.All returns.
var revocationAlone = contains(actions, 'revokesigninsessions') && !contains(actions, 'disableaccount')

// User.Read.All for reasons other than the look-ups: disableAccount, enableAccount, campaigns.
var userReadAllAnyway = (grantActionPermissions && (contains(actions, 'disableaccount') || contains(releaseActions, 'enableaccount'))) || grantCampaignPermissions

// User.Read.All, granted for any reason above: it also reads every membership checkMemberObjects answers.
var userReadAllGranted = userReadAllAnyway || (grantReadPermission && revocationAlone)

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
    wanted: userReadAllAnyway || (grantReadPermission && revocationAlone)
    why: 'disableAccount, enableAccount: Update user documents User.EnableDisableAccount.All plus User.Read.All as the least privilege for accountEnabled. Campaigns: the accountEnabled and userType of every listed user, and GET /users for allUsers. Look-ups when revocation is the only containing action: GET /users/{id}?$select=userType,externalUserState,creationType,identities tells external users apart, properties User.ReadBasic.All does not return; it also serves every other look-up.'
  }
  {
    role: 'IdentityRiskyUser.ReadWrite.All'
    wanted: grantActionPermissions && (contains(actions, 'confirmcompromised') || contains(releaseActions, 'dismissrisk'))
    why: 'confirmCompromised and the release dismissRisk: POST /identityProtection/riskyUsers/confirmCompromised or /dismiss (Microsoft Entra ID P2).'
  }
  {
    role: 'GroupMember.Read.All'
    wanted: grantCampaignPermissions || (grantReadPermission && protectionByMembership && !userReadAllGranted)
    why: 'Campaigns, scope group: GET /groups/{id}/transitiveMembers/microsoft.graph.user (reads memberships, not group settings). Protection by group or role: POST /users/{id}/checkMemberObjects, whose least privilege is User.ReadBasic.All and GroupMember.Read.All, unless User.Read.All is granted, which serves alone.'
  }
  {
    role: 'RoleManagement.Read.Directory'
    wanted: grantCampaignPermissions
    why: 'Campaigns, scope directoryRole: GET /directoryRoles(roleTemplateId={id})/members (active assignments; PIM-eligible ones are not read).'
  }
  {
    role: 'SecurityIdentitiesAccount.Read.All'
    wanted: grantActionPermissions && !empty(onpremActions)
    why: 'REVOKE_ONPREM_ACTIONS: GET /security/identities/identityAccounts?$filter=onPremisesSecurityIdentifier eq ... finds a synced user\'s identity account in Defender for Identity (read only).'
  }
  {
    role: 'SecurityIdentitiesActions.ReadWrite.All'
    wanted: grantActionPermissions && !empty(onpremActions)
    why: 'REVOKE_ONPREM_ACTIONS: POST /security/identities/identityAccounts/{id}/invokeAction disables (or enables, or forces a password reset for) that identity\'s Active Directory account.'
  }
  {
    role: 'User.ReadBasic.All'
    wanted: grantReadPermission && !(revocationAlone || userReadAllAnyway)
    why: 'GET /users/{id}?$select=id,userPrincipalName when revocation is not the only containing action and nothing else grants User.Read.All (which includes it): protected users named the other way, the object id confirmCompromised needs for a UPN, and the look-up before a release.'
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
