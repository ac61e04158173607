#!/usr/bin/env bash
# Grants the function identity its Microsoft Graph application roles with `az rest`, for a
# deployment made with GRANT_GRAPH_REVOKE_PERMISSION=false / GRANT_GRAPH_READ_PERMISSION=false.
# Run it as a Privileged Role Administrator (or Global Administrator), after `az login`.
#
#   infra/scripts/grant-graph-permissions.sh [--no-read] <principal-object-id>
#
# <principal-object-id> is the FUNCTION_IDENTITY_PRINCIPAL_ID output of the deployment
# (`azd env get-value FUNCTION_IDENTITY_PRINCIPAL_ID`). --no-read leaves out User.ReadBasic.All,
# which only the protected-users guardrail needs. Grants that already exist are left alone.
set -euo pipefail

GRAPH_APP_ID=00000003-0000-0000-c000-000000000000
# Application role ids from the Microsoft Graph permissions reference.
USER_REVOKE_SESSIONS_ALL=77f3a031-c388-4f99-b373-dc68676a979e
USER_READ_BASIC_ALL=97235f07-e226-4f63-ace3-39588e11d3a1
GRAPH=https://graph.microsoft.com/v1.0

roles=("$USER_REVOKE_SESSIONS_ALL" "$USER_READ_BASIC_ALL")
if [[ "${1:-}" == "--no-read" ]]; then
  roles=("$USER_REVOKE_SESSIONS_ALL")
  shift
fi

principal="${1:-}"
guid='^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$'
if [[ ! "$principal" =~ $guid ]]; then
  echo "usage: $0 [--no-read] <principal-object-id of the function identity>" >&2
  exit 2
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
