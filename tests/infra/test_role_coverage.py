"""Every Azure call the app, its bindings and the bridge make is allowed by the roles the templates assign.

A missing data action fails only at run time, and only on the path that needs it: a 403
AuthorizationPermissionMismatch when the queue trigger sets a failed message's visibility, say,
after which the message comes back only when its 10-minute receive visibility runs out. So each
call is written down here with the permission the Storage service checks for it, and the test
asserts that a role assigned at a scope covering the resource grants it.

Sources: the permission each operation needs is the table "Permissions for calling data
operations" in the Storage REST reference (learn.microsoft.com/rest/api/storageservices/
authorize-with-azure-active-directory); the calls come from the Functions queue extension
(Microsoft.Azure.WebJobs.Extensions.Storage.Queues: QueueProcessor.ReleaseMessageAsync calls
UpdateMessage; the poison move and the output binding call AddMessageAndCreateIfNotExistsAsync,
which puts the message and creates the queue only on 404) and the Functions host (diagnostic
events need Storage Table Data Contributor: azure-functions-host pull request 10996). The incident
comment is IncidentComments_CreateOrUpdate, Microsoft.SecurityInsights/incidents/comments/write
("Creates a comment on the incident", Azure permissions reference, Security). The role definitions
are copied from Microsoft's built-in roles reference (Storage, Monitor and Security pages).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import pytest

QUEUE = "Microsoft.Storage/storageAccounts/queueServices/queues"
MESSAGES = f"{QUEUE}/messages"
CONTAINERS = "Microsoft.Storage/storageAccounts/blobServices/containers"
BLOBS = f"{CONTAINERS}/blobs"
TABLES = "Microsoft.Storage/storageAccounts/tableServices/tables"
ENTITIES = f"{TABLES}/entities"
SECURITY_INSIGHTS = "Microsoft.SecurityInsights"
INCIDENT_COMMENTS = f"{SECURITY_INSIGHTS}/incidents/comments"
INCIDENT_TASKS = f"{SECURITY_INSIGHTS}/incidents/tasks"


def _matches(pattern: str, permission: str) -> bool:
    # Azure RBAC: `*` matches any run of characters, names compare case-insensitively.
    return re.fullmatch(re.escape(pattern).replace(r"\*", ".*"), permission, re.IGNORECASE) is not None


@dataclass(frozen=True)
class Role:
    name: str
    actions: tuple[str, ...]
    data_actions: tuple[str, ...] = ()
    not_actions: tuple[str, ...] = ()

    def grants(self, permission: str) -> bool:
        if any(_matches(pattern, permission) for pattern in self.not_actions):
            return False
        return any(_matches(pattern, permission) for pattern in (*self.actions, *self.data_actions))


# Built-in role definition id -> the role's actions and data actions, as Microsoft's built-in
# roles reference publishes them. Only the roles app/rbac.bicep may assign are listed.
BUILT_IN_ROLES = {
    "b7e6dc6d-f1e8-4753-8033-0f276bb0955b": Role(
        "Storage Blob Data Owner",
        (f"{CONTAINERS}/*", "Microsoft.Storage/storageAccounts/blobServices/generateUserDelegationKey/action"),
        (f"{BLOBS}/*",),
    ),
    "0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3": Role(
        "Storage Table Data Contributor",
        (f"{TABLES}/read", f"{TABLES}/write", f"{TABLES}/delete"),
        (
            f"{ENTITIES}/read",
            f"{ENTITIES}/write",
            f"{ENTITIES}/delete",
            f"{ENTITIES}/add/action",
            f"{ENTITIES}/update/action",
        ),
    ),
    "974c5e8b-45b9-4653-ba55-5f855dd0fb88": Role(
        "Storage Queue Data Contributor",
        (f"{QUEUE}/delete", f"{QUEUE}/read", f"{QUEUE}/write"),
        (f"{MESSAGES}/delete", f"{MESSAGES}/read", f"{MESSAGES}/write", f"{MESSAGES}/process/action"),
    ),
    "19e7f393-937e-4f77-808e-94535e297925": Role(
        "Storage Queue Data Reader", (f"{QUEUE}/read",), (f"{MESSAGES}/read",)
    ),
    "8a0f0c08-91a1-4084-bc3d-661d67233fed": Role(
        "Storage Queue Data Message Processor", (), (f"{MESSAGES}/read", f"{MESSAGES}/process/action")
    ),
    "c6a89b2d-59bc-44d0-9896-0f6e12d7b80a": Role("Storage Queue Data Message Sender", (), (f"{MESSAGES}/add/action",)),
    "3913510d-42f4-4e42-8a64-420c390055eb": Role(
        "Monitoring Metrics Publisher",
        (
            "Microsoft.Insights/Register/Action",
            "Microsoft.Support/*",
            "Microsoft.Resources/subscriptions/resourceGroups/read",
        ),
        ("Microsoft.Insights/Metrics/Write", "Microsoft.Insights/Telemetry/Write"),
    ),
    "f4c81013-99ee-4d62-a7ee-b3f1f648599a": Role(
        "Microsoft Sentinel Automation Contributor",
        (
            "Microsoft.Authorization/*/read",
            "Microsoft.Logic/workflows/triggers/read",
            "Microsoft.Logic/workflows/triggers/listCallbackUrl/action",
            "Microsoft.Logic/workflows/runs/read",
            "Microsoft.Web/sites/hostruntime/webhooks/api/workflows/triggers/read",
            "Microsoft.Web/sites/hostruntime/webhooks/api/workflows/triggers/listCallbackUrl/action",
            "Microsoft.Web/sites/hostruntime/webhooks/api/workflows/runs/read",
        ),
    ),
    "3e150937-b8fe-4cfb-8069-0eaf05ecd056": Role(
        "Microsoft Sentinel Responder",
        (
            f"{SECURITY_INSIGHTS}/*/read",
            f"{SECURITY_INSIGHTS}/dataConnectorsCheckRequirements/action",
            f"{SECURITY_INSIGHTS}/automationRules/*",
            f"{SECURITY_INSIGHTS}/cases/*",
            f"{SECURITY_INSIGHTS}/incidents/*",
            f"{SECURITY_INSIGHTS}/entities/runPlaybook/action",
            f"{SECURITY_INSIGHTS}/threatIntelligence/indicators/appendTags/action",
            f"{SECURITY_INSIGHTS}/threatIntelligence/indicators/query/action",
            f"{SECURITY_INSIGHTS}/threatIntelligence/bulkTag/action",
            f"{SECURITY_INSIGHTS}/threatIntelligence/indicators/replaceTags/action",
            f"{SECURITY_INSIGHTS}/threatIntelligence/queryIndicators/action",
            f"{SECURITY_INSIGHTS}/businessApplicationAgents/systems/undoAction/action",
            "Microsoft.OperationalInsights/workspaces/analytics/query/action",
            "Microsoft.OperationalInsights/workspaces/*/read",
            "Microsoft.OperationalInsights/workspaces/dataSources/read",
            "Microsoft.OperationalInsights/workspaces/savedSearches/read",
            "Microsoft.OperationsManagement/solutions/read",
            "Microsoft.OperationalInsights/workspaces/query/read",
            "Microsoft.OperationalInsights/workspaces/query/*/read",
            "Microsoft.OperationalInsights/querypacks/*/read",
            "Microsoft.Insights/workbooks/read",
            "Microsoft.Insights/myworkbooks/read",
            "Microsoft.Authorization/*/read",
            "Microsoft.Insights/alertRules/*",
            "Microsoft.Resources/deployments/*",
            "Microsoft.Resources/subscriptions/resourceGroups/read",
            "Microsoft.Support/*",
        ),
        not_actions=(
            f"{SECURITY_INSIGHTS}/cases/*/Delete",
            f"{SECURITY_INSIGHTS}/incidents/*/Delete",
            f"{SECURITY_INSIGHTS}/ConfidentialWatchlists/*",
            "Microsoft.OperationalInsights/workspaces/query/ConfidentialWatchlist/*",
        ),
    ),
}


@dataclass(frozen=True)
class Need:
    """One call a principal makes on one resource, and the permissions that allow it (any one set)."""

    principal: str
    resource: str  # "storage", "queue:<name parameter>", "appInsights", "playbook", "sentinelWorkspace"
    call: str
    any_of: tuple[frozenset[str], ...]


def need(principal: str, resource: str, call: str, *alternatives: tuple[str, ...]) -> Need:
    return Need(principal, resource, call, tuple(frozenset(permissions) for permissions in alternatives))


REQUEST_QUEUE = "queue:requestQueueName"
POISON_QUEUE = "queue:poisonQueueName"

NEEDS = (
    # The queue trigger on the request queue (QueueListener, QueueProcessor, the scale monitor).
    need(
        "function",
        REQUEST_QUEUE,
        "Get Messages",
        (f"{MESSAGES}/process/action",),
        (f"{MESSAGES}/read", f"{MESSAGES}/delete"),
    ),
    need(
        "function",
        REQUEST_QUEUE,
        "Delete Message, after success or a poison move",
        (f"{MESSAGES}/process/action",),
        (f"{MESSAGES}/delete",),
    ),
    need(
        "function",
        REQUEST_QUEUE,
        "Update Message: visibility timeout after a failed invocation",
        (f"{MESSAGES}/write",),
    ),
    need(
        "function",
        REQUEST_QUEUE,
        "Update Message: keep the message hidden while a long invocation runs",
        (f"{MESSAGES}/write",),
    ),
    need("function", REQUEST_QUEUE, "Get Queue Metadata: approximate length for scaling", (f"{QUEUE}/read",)),
    need("function", REQUEST_QUEUE, "Peek Messages: age of the oldest message for scaling", (f"{MESSAGES}/read",)),
    # The poison output binding, and the trigger moving a message past maxDequeueCount.
    need("function", POISON_QUEUE, "Put Message", (f"{MESSAGES}/add/action",), (f"{MESSAGES}/write",)),
    need("function", POISON_QUEUE, "Create Queue, only if the poison queue was deleted", (f"{QUEUE}/write",)),
    # Host storage (AzureWebJobsStorage): keys, leases, the deployment package, diagnostic events.
    need("function", "storage", "Create Container", (f"{CONTAINERS}/write",)),
    need("function", "storage", "Get Blob", (f"{BLOBS}/read",)),
    need("function", "storage", "Put Blob, Lease Blob", (f"{BLOBS}/write",)),
    need("function", "storage", "Delete Blob", (f"{BLOBS}/delete",)),
    need("function", "storage", "Query Tables", (f"{TABLES}/read",)),
    need("function", "storage", "Create Table", (f"{TABLES}/write",)),
    need("function", "storage", "Delete Table: events older than the retention", (f"{TABLES}/delete",)),
    need("function", "storage", "Insert Entity", (f"{ENTITIES}/write",), (f"{ENTITIES}/add/action",)),
    need("function", "storage", "Query Entities", (f"{ENTITIES}/read",)),
    need("function", "storage", "Delete Entity", (f"{ENTITIES}/delete",)),
    # The action budget's and the containment records' tables (revoke/policy/budget.py,
    # revoke/containment/records.py): create them, read, write (insert, merge, replace) and delete entities.
    need("function", "storage", "Get Entity: a budget, a containment record", (f"{ENTITIES}/read",)),
    need(
        "function",
        "storage",
        "Insert Or Merge Entity, Merge Entity, Update Entity: a budget, a containment record",
        (f"{ENTITIES}/write",),
    ),
    need("function", "storage", "Delete Entity: a released containment record", (f"{ENTITIES}/delete",)),
    # Telemetry with an Entra token (local auth is off on Application Insights).
    need("function", "appInsights", "Track telemetry", ("Microsoft.Insights/Telemetry/Write",)),
    # The Sentinel bridge puts incidents on the request queue.
    need("bridge", REQUEST_QUEUE, "Put Message", (f"{MESSAGES}/add/action",), (f"{MESSAGES}/write",)),
    # Sentinel runs the playbook through its trigger's callback URL.
    need("sentinel", "playbook", "Run the playbook", ("Microsoft.Logic/workflows/triggers/listCallbackUrl/action",)),
    # The function comments on the request's incident (PUT, which creates or updates the comment).
    need("function", "sentinelWorkspace", "Create or update an incident comment", (f"{INCIDENT_COMMENTS}/write",)),
    # The function sends its audit events to the audit table's data collection rule (Logs Ingestion API).
    need("function", "auditRule", "Upload to the audit table's stream", ("Microsoft.Insights/Telemetry/Write",)),
    # And adds tasks to it for what a person must finish (IncidentTasks_CreateOrUpdate).
    need("function", "sentinelWorkspace", "Create or update an incident task", (f"{INCIDENT_TASKS}/write",)),
)


@dataclass(frozen=True)
class Assignment:
    principal: str
    role: Role
    scope: str  # "storage", "queue:<name parameter>", "appInsights", "resourceGroup", "sentinelWorkspace", "auditRule"

    def covers(self, resource: str) -> bool:
        if self.scope == "resourceGroup":
            return True
        if self.scope == "storage":
            return resource == "storage" or resource.startswith("queue:")
        return self.scope == resource

    def allows(self, need: Need) -> bool:
        return (
            self.principal == need.principal
            and self.covers(need.resource)
            and any(all(self.role.grants(permission) for permission in permissions) for permissions in need.any_of)
        )


def assignments_in(templates: dict[str, dict[str, Any]]) -> list[Assignment]:
    rbac = templates["app/rbac.bicep"]["variables"]
    role_ids = rbac["roles"]["value"]
    found = []
    for grant in rbac["grants"]["value"]:
        scope = grant["scope"] if grant["scope"] != "queue" else f"queue:{grant['queue']}"
        found.append(Assignment(grant["principal"], BUILT_IN_ROLES[role_ids[grant["role"]]], scope))
    # app/sentinel-responder.bicep: the function identity, on the workspace, when comments are on.
    found.append(Assignment("function", BUILT_IN_ROLES[_sentinel_responder_role(templates)], "sentinelWorkspace"))
    # app/audit-publisher.bicep: the function identity, on the audit table's rule.
    found.append(
        Assignment("function", BUILT_IN_ROLES[_module_role(templates, "app/audit-publisher.bicep")], "auditRule")
    )
    return found


def _sentinel_responder_role(templates: dict[str, dict[str, Any]]) -> str:
    return _module_role(templates, "app/sentinel-responder.bicep")


def _module_role(templates: dict[str, dict[str, Any]], name: str) -> str:
    """The role a module that assigns one role assigns."""
    module = templates[name]
    (assignment,) = [r for r in module["resources"].values() if r["type"] == "Microsoft.Authorization/roleAssignments"]
    role = assignment["config"]["properties"]["roleDefinitionId"]["function"]["parameters"]["resource_name_1"]
    return str(module["variables"][role]["value"])


def missing(needs: tuple[Need, ...], assignments: list[Assignment]) -> list[str]:
    return [f"{n.principal} on {n.resource}: {n.call}" for n in needs if not any(a.allows(n) for a in assignments)]


def test_every_role_the_template_assigns_is_a_known_built_in_role(templates: dict[str, dict[str, Any]]) -> None:
    role_ids = {
        *templates["app/rbac.bicep"]["variables"]["roles"]["value"].values(),
        _sentinel_responder_role(templates),
        _module_role(templates, "app/audit-publisher.bicep"),
    }
    assert role_ids <= set(BUILT_IN_ROLES), "add the role's definition to BUILT_IN_ROLES"


def test_every_call_is_allowed(templates: dict[str, dict[str, Any]]) -> None:
    assert missing(NEEDS, assignments_in(templates)) == []


def test_every_assignment_allows_some_call(templates: dict[str, dict[str, Any]]) -> None:
    """No role is assigned that no call needs."""
    unused = [
        (a.principal, a.role.name, a.scope) for a in assignments_in(templates) if not any(a.allows(n) for n in NEEDS)
    ]
    assert unused == []


def test_reader_and_message_processor_cannot_release_a_failed_message() -> None:
    """What the request queue had before: receive and delete, but no messages/write for Update Message."""
    before = [
        Assignment("function", BUILT_IN_ROLES["19e7f393-937e-4f77-808e-94535e297925"], REQUEST_QUEUE),
        Assignment("function", BUILT_IN_ROLES["8a0f0c08-91a1-4084-bc3d-661d67233fed"], REQUEST_QUEUE),
    ]
    request_queue_needs = tuple(n for n in NEEDS if n.principal == "function" and n.resource == REQUEST_QUEUE)
    assert missing(request_queue_needs, before) == [
        "function on queue:requestQueueName: Update Message: visibility timeout after a failed invocation",
        "function on queue:requestQueueName: Update Message: keep the message hidden while a long invocation runs",
    ]


@pytest.mark.parametrize(
    ("scope", "resource", "covered"),
    [
        ("storage", REQUEST_QUEUE, True),
        (REQUEST_QUEUE, POISON_QUEUE, False),
        (POISON_QUEUE, "storage", False),
        ("resourceGroup", "playbook", True),
    ],
)
def test_a_queue_role_covers_only_its_queue(scope: str, resource: str, covered: bool) -> None:
    assignment = Assignment("function", BUILT_IN_ROLES["974c5e8b-45b9-4653-ba55-5f855dd0fb88"], scope)
    assert assignment.covers(resource) is covered


def test_sender_may_add_but_not_read() -> None:
    sender = BUILT_IN_ROLES["c6a89b2d-59bc-44d0-9896-0f6e12d7b80a"]
    assert sender.grants(f"{MESSAGES}/add/action")
    assert not sender.grants(f"{MESSAGES}/read")
    assert not sender.grants(f"{MESSAGES}/write")


def test_responder_may_write_comments_but_not_delete_them() -> None:
    responder = BUILT_IN_ROLES["3e150937-b8fe-4cfb-8069-0eaf05ecd056"]
    assert responder.grants(f"{INCIDENT_COMMENTS}/write")
    assert not responder.grants(f"{INCIDENT_COMMENTS}/delete")  # notActions incidents/*/Delete


def test_sentinel_reader_could_not_comment() -> None:
    """Why Responder: the read-only Sentinel role lacks comments/write (Azure built-in roles reference)."""
    reader = Role("Microsoft Sentinel Reader", (f"{SECURITY_INSIGHTS}/*/read",))
    assert missing(
        tuple(n for n in NEEDS if n.resource == "sentinelWorkspace"),
        [Assignment("function", reader, "sentinelWorkspace")],
    ) == [
        "function on sentinelWorkspace: Create or update an incident comment",
        "function on sentinelWorkspace: Create or update an incident task",
    ]
