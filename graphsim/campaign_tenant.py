"""A simulated tenant for campaign tests, the demo and the benchmark: users, nested groups, a role, a write quota."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from graphsim.directory import SimulatedGroup
from graphsim.server import GraphSimulator
from graphsim.users import SimulatedUser

GLOBAL_ADMINISTRATOR = "62e90394-69f5-4237-9190-012177145e10"  # the role template id Entra ID documents


@dataclass
class CampaignTenant:
    graph: GraphSimulator
    members: list[SimulatedUser] = field(default_factory=list)
    guests: list[SimulatedUser] = field(default_factory=list)
    disabled: list[SimulatedUser] = field(default_factory=list)
    protected: list[SimulatedUser] = field(default_factory=list)
    group: SimulatedGroup | None = None
    admins: list[SimulatedUser] = field(default_factory=list)
    eligible_admins: list[SimulatedUser] = field(default_factory=list)


def build_tenant(
    graph: GraphSimulator, members: int, guests: int = 0, disabled: int = 0, protected: int = 0
) -> CampaignTenant:
    """`members` users and `guests` guests to act on; `disabled` already disabled and `protected` break-glass accounts.

    The group holds every one of them: a third directly, the rest in a nested group inside a
    nested group (with a cycle back to the top, which Graph tolerates). Two members hold the
    Global Administrator role actively, one more is only PIM-eligible.
    """
    tenant = CampaignTenant(graph)
    tenant.members = [graph.add_user(f"user{i:05d}@contoso.com") for i in range(members)]
    tenant.guests = [graph.add_user(f"guest{i:05d}_fabrikam.com#EXT#@contoso.onmicrosoft.com") for i in range(guests)]
    tenant.disabled = [graph.add_user(f"former{i:05d}@contoso.com") for i in range(disabled)]
    graph.disabled.update(user.object_id for user in tenant.disabled)
    tenant.protected = [graph.add_user(f"breakglass{i}@contoso.com", str(uuid.uuid4())) for i in range(protected)]
    everyone = tenant.members + tenant.guests + tenant.disabled + tenant.protected
    third = len(everyone) // 3
    inner = graph.directory.add_group(everyone[2 * third :])
    middle = graph.directory.add_group(everyone[third : 2 * third], [inner])
    tenant.group = graph.directory.add_group(everyone[:third], [middle])
    inner.groups.append(tenant.group.object_id)  # a cycle
    tenant.admins = tenant.members[:2]
    tenant.eligible_admins = tenant.members[2:3]
    graph.directory.assign_role(GLOBAL_ADMINISTRATOR, tenant.admins)
    graph.directory.assign_role(GLOBAL_ADMINISTRATOR, tenant.eligible_admins, eligible=True)
    return tenant
