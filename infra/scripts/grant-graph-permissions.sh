#!/usr/bin/env bash
# Grants the function identity the Microsoft Graph application roles of its containment actions
# with `az rest`, for a deployment made with GRANT_GRAPH_REVOKE_PERMISSION=false /
# GRANT_GRAPH_READ_PERMISSION=false. Run it as a Privileged Role Administrator (or Global
# Administrator), after `az login`.
#
#   infra/scripts/grant-graph-permissions.sh [--actions LIST] [--release-actions LIST] [--onprem-actions LIST] [--no-read] [--campaigns]
#       [--protected-groups LIST] [--protected-roles LIST] <principal-object-id>
#
# <principal-object-id> is the FUNCTION_IDENTITY_PRINCIPAL_ID output of the deployment
# (`azd env get-value FUNCTION_IDENTITY_PRINCIPAL_ID`). LIST is the deployment's REVOKE_ACTIONS,
# comma-separated; without --actions the REVOKE_ACTIONS environment variable is used, and without
# that revokeSignInSessions, the function's default. Each action gets the roles
# infra/app/graph-permissions.bicep grants it:
#
#   revokeSignInSessions  User.RevokeSessions.All
#   disableAccount        User.EnableDisableAccount.All and User.Read.All
#   confirmCompromised    IdentityRiskyUser.ReadWrite.All
#
# --onprem-actions LIST (or REVOKE_ONPREM_ACTIONS: disableAccount, optionally forcePasswordReset)
# adds Defender for Identity's SecurityIdentitiesAccount.Read.All (find the identity account by
# SID) and SecurityIdentitiesActions.ReadWrite.All (invokeAction on its Active Directory account).
# --campaigns (or REVOKE_CAMPAIGNS=true) adds the read roles campaigns list members with:
# GroupMember.Read.All, RoleManagement.Read.Directory and User.Read.All. Unless --no-read is given,
# a read role is granted for the look-ups, as the template does: User.Read.All when
# revokeSignInSessions is listed without disableAccount (revocation alone must tell external users
# apart, and userType, externalUserState, creationType and identities are not in the basic
# profile), otherwise User.ReadBasic.All unless User.Read.All, which includes it, is granted
# anyway; never both. When --protected-groups or --protected-roles (or REVOKE_PROTECTED_GROUPS,
# REVOKE_PROTECTED_ROLES) names an id, memberships are read with checkMemberObjects: GroupMember.Read.All
# is added beside User.ReadBasic.All, unless User.Read.All, which serves alone, is granted. Each role is posted once. Grants that already exist are left alone, and none
# is ever removed.
set -euo pipefail

GRAPH_APP_ID=00000003-0000-0000-c000-000000000000
# Application role ids from the Microsoft Graph permissions reference.
USER_REVOKE_SESSIONS_ALL=77f3a031-c388-4f99-b373-dc68676a979e
USER_ENABLE_DISABLE_ACCOUNT_ALL=3011c876-62b7-4ada-afa2-506cbbecc68c
USER_READ_ALL=df021288-bdef-4463-88db-98f22de89214
IDENTITY_RISKY_USER_READ_WRITE_ALL=656f6061-f9fe-4807-9708-6a2e0934df76
USER_READ_BASIC_ALL=97235f07-e226-4f63-ace3-39588e11d3a1
GROUP_MEMBER_READ_ALL=98830695-27a2-44f7-8c18-0c3ebc9698f6
ROLE_MANAGEMENT_READ_DIRECTORY=483bed4a-2ad3-4361-a73b-c83ccdbdc53c
SECURITY_IDENTITIES_ACCOUNT_READ_ALL=c5bc96f5-b4a1-4cfc-8189-d5f0d772278f
SECURITY_IDENTITIES_ACTIONS_READ_WRITE_ALL=af2bf46f-7bf1-4be3-8bad-e17e279e8462
GRAPH=https://graph.microsoft.com/v1.0

usage() {
  echo "usage: $0 [--actions revokeSignInSessions,disableAccount,confirmCompromised] [--release-actions enableAccount,dismissRisk] [--onprem-actions disableAccount,forcePasswordReset] [--no-read] [--campaigns] [--protected-groups IDS] [--protected-roles IDS] <principal-object-id of the function identity>" >&2
  exit 2
}

actions="${REVOKE_ACTIONS:-revokeSignInSessions}"
release_actions="${REVOKE_RELEASE_ACTIONS:-}"
onprem_actions="${REVOKE_ONPREM_ACTIONS:-}"
read_role=yes
campaigns=$(tr '[:upper:]' '[:lower:]' <<<"${REVOKE_CAMPAIGNS:-false}")
protected_groups="${REVOKE_PROTECTED_GROUPS:-}"
protected_roles="${REVOKE_PROTECTED_ROLES:-}"
principal=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --actions)
      [[ $# -ge 2 ]] || usage
      actions="$2"
      shift 2
      ;;
    --release-actions)
      [[ $# -ge 2 ]] || usage
      release_actions="$2"
      shift 2
      ;;
    --onprem-actions)
      [[ $# -ge 2 ]] || usage
      onprem_actions="$2"
      shift 2
      ;;
    --no-read)
      read_role=no
      shift
      ;;
    --campaigns)
      campaigns=true
      shift
      ;;
    --protected-groups)
      [[ $# -ge 2 ]] || usage
      protected_groups="$2"
      shift 2
      ;;
    --protected-roles)
      [[ $# -ge 2 ]] || usage
      protected_roles="$2"
      shift 2
      ;;
    -*)
      usage
      ;;
    *)
      [[ -z "$principal" ]] || usage
      principal="$1"
      shift
      ;;
  esac
done

guid='^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$'
if [[ ! "$principal" =~ $guid ]]; then
  usage
fi

# The roles of the listed actions, read as the function reads REVOKE_ACTIONS: names in any case,
# spaces around them and empty items ignored, an unknown name refused.
roles=()
has_role() {
  local role
  for role in "${roles[@]+"${roles[@]}"}"; do
    [[ "$role" == "$1" ]] && return 0
  done
  return 1
}
add_role() {
  has_role "$1" || roles+=("$1")
}
named=0
revoke_listed=no
disable_listed=no
IFS=',' read -r -a names <<<"$actions"
for name in "${names[@]}"; do
  name="${name#"${name%%[![:space:]]*}"}"
  name="${name%"${name##*[![:space:]]}"}"
  [[ -n "$name" ]] || continue
  named=$((named + 1))
  case "$(tr '[:upper:]' '[:lower:]' <<<"$name")" in
    revokesigninsessions)
      revoke_listed=yes
      add_role "$USER_REVOKE_SESSIONS_ALL"
      ;;
    disableaccount)
      disable_listed=yes
      add_role "$USER_ENABLE_DISABLE_ACCOUNT_ALL"
      add_role "$USER_READ_ALL"
      ;;
    confirmcompromised)
      add_role "$IDENTITY_RISKY_USER_READ_WRITE_ALL"
      ;;
    *)
      echo "unknown action '$name': expected revokeSignInSessions, disableAccount or confirmCompromised" >&2
      exit 2
      ;;
  esac
done
if [[ $named -eq 0 ]]; then
  echo "no action named in '$actions'" >&2
  exit 2
fi
# The release actions (REVOKE_RELEASE_ACTIONS, none by default) need the same roles as their counterparts.
IFS=',' read -r -a names <<<"$release_actions"
for name in "${names[@]+"${names[@]}"}"; do
  name="${name#"${name%%[![:space:]]*}"}"
  name="${name%"${name##*[![:space:]]}"}"
  [[ -n "$name" ]] || continue
  case "$(tr '[:upper:]' '[:lower:]' <<<"$name")" in
    none)
      ;;
    enableaccount)
      add_role "$USER_ENABLE_DISABLE_ACCOUNT_ALL"
      add_role "$USER_READ_ALL"
      ;;
    dismissrisk)
      add_role "$IDENTITY_RISKY_USER_READ_WRITE_ALL"
      ;;
    *)
      echo "unknown release action '$name': expected enableAccount or dismissRisk" >&2
      exit 2
      ;;
  esac
done
# The Active Directory actions (REVOKE_ONPREM_ACTIONS, none by default), through Defender for Identity.
IFS=',' read -r -a names <<<"$onprem_actions"
for name in "${names[@]+"${names[@]}"}"; do
  name="${name#"${name%%[![:space:]]*}"}"
  name="${name%"${name##*[![:space:]]}"}"
  [[ -n "$name" ]] || continue
  case "$(tr '[:upper:]' '[:lower:]' <<<"$name")" in
    disableaccount | forcepasswordreset)
      add_role "$SECURITY_IDENTITIES_ACCOUNT_READ_ALL"
      add_role "$SECURITY_IDENTITIES_ACTIONS_READ_WRITE_ALL"
      ;;
    *)
      echo "unknown on-premises action '$name': expected disableAccount or forcePasswordReset" >&2
      exit 2
      ;;
  esac
done
if [[ "$campaigns" == true ]]; then
  add_role "$GROUP_MEMBER_READ_ALL"
  add_role "$ROLE_MANAGEMENT_READ_DIRECTORY"
  add_role "$USER_READ_ALL"
fi
# The look-ups' read role, as revoke/app/readiness.py asks for it: revocation as the only
# containing action needs User.Read.All; any other look-up is served by either role, so
# User.ReadBasic.All only when User.Read.All is not granted anyway.
if [[ "$read_role" == yes ]]; then
  if [[ "$revoke_listed" == yes && "$disable_listed" == no ]]; then
    add_role "$USER_READ_ALL"
  elif ! has_role "$USER_READ_ALL"; then
    add_role "$USER_READ_BASIC_ALL"
  fi
  # Protection by group or directory role: checkMemberObjects reads memberships with User.ReadBasic.All
  # and GroupMember.Read.All, or with User.Read.All alone (revoke/app/readiness.py, MEMBERSHIP_ROLES).
  if [[ "${protected_groups},${protected_roles}" =~ [^[:space:],] ]] && ! has_role "$USER_READ_ALL"; then
    add_role "$GROUP_MEMBER_READ_ALL"
  fi
fi

graph_sp=$(az rest --method GET \
  --url "$GRAPH/servicePrincipals(appId='$GRAPH_APP_ID')?\$select=id" \
  --query id --output tsv)

existing=$(az rest --method GET \
  --url "$GRAPH/servicePrincipals/$principal/appRoleAssignments" \
  --query "value[?resourceId=='$graph_sp'].appRoleId" --output tsv)

for role in "${roles[@]}"; do
  if grep -qix "$role" <<<"$existing"; then
    echo "already granted: Microsoft Graph app role $role to $principal"
    continue
  fi
  az rest --method POST \
    --url "$GRAPH/servicePrincipals/$principal/appRoleAssignments" \
    --headers "Content-Type=application/json" \
    --body "{\"principalId\": \"$principal\", \"resourceId\": \"$graph_sp\", \"appRoleId\": \"$role\"}" \
    --output none
  echo "granted: Microsoft Graph app role $role to $principal"
done
