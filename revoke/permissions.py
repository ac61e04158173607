"""Microsoft Graph application permissions: which broader permission Microsoft documents as serving a narrower one.

A deployment holding `User.ReadWrite.All` can read users: it is not missing `User.Read.All`,
only holding more than it needs (the health check warns about that separately). Each row
below is what the Graph API reference page of a call this service makes lists as "higher
privileged permissions" for the same call, so a broader permission counts only where
Microsoft says it serves; a permission with no row (`User.RevokeSessions.All`,
`IdentityRiskyUser.ReadWrite.All`) is served by itself alone. Pages, all under
https://learn.microsoft.com/graph/api/:

    user-get                       GET /users/{id}                            User.Read.All
    user-update                    PATCH /users/{id} (accountEnabled)         User.EnableDisableAccount.All
    user-revokesigninsessions      Application: higher privileged "Not available"
    riskyuser-confirmcompromised   Application: IdentityRiskyUser.ReadWrite.All only
    group-list-transitivemembers   GET /groups/{id}/transitiveMembers         GroupMember.Read.All
    directoryrole-list-members     GET /directoryRoles/{id}/members           RoleManagement.Read.Directory

and the permissions reference (https://learn.microsoft.com/graph/permissions-reference):
User.ReadBasic.All reads the basic profile, a subset of what User.Read.All reads.
"""

from __future__ import annotations

from collections.abc import Iterable

# A narrower permission, and the broader ones documented as serving the same calls.
INCLUDED_IN: dict[str, frozenset[str]] = {
    # permissions reference; user-get (higher privileged: User.ReadWrite.All, Directory.Read.All, Directory.ReadWrite.All)
    "User.ReadBasic.All": frozenset({"User.Read.All", "User.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All"}),
    # user-get
    "User.Read.All": frozenset({"User.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All"}),
    # user-update: "User.EnableDisableAccount.All + User.Read.All" least; User.ReadWrite.All, Directory.ReadWrite.All higher
    "User.EnableDisableAccount.All": frozenset({"User.ReadWrite.All", "Directory.ReadWrite.All"}),
    # group-list-transitivemembers
    "GroupMember.Read.All": frozenset(
        {"GroupMember.ReadWrite.All", "Group.Read.All", "Group.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All"}
    ),
    # directoryrole-list-members
    "RoleManagement.Read.Directory": frozenset(
        {"RoleManagement.ReadWrite.Directory", "Directory.Read.All", "Directory.ReadWrite.All"}
    ),
}  # fmt: skip


def serves(held: Iterable[str], needed: str) -> bool:
    """Whether the permissions `held` include `needed`, itself or a broader one documented to serve it."""
    have = set(held)
    return needed in have or bool(have & INCLUDED_IN.get(needed, frozenset()))


def not_served(held: Iterable[str], needed: Iterable[str]) -> tuple[str, ...]:
    """The permissions of `needed` that nothing `held` serves, sorted."""
    have = frozenset(held)
    return tuple(sorted(permission for permission in set(needed) if not serves(have, permission)))
