"""`python -m graphsim`: serve the simulator on its own, for `func start` or the CLI by hand.

It knows the sample tenant's users (samples/), prints the environment to export so the app
and azure-identity use it, and serves until interrupted. Loopback only; not part of the product.
"""

from __future__ import annotations

import argparse
import contextlib
import shlex
import threading

from graphsim.server import GraphSimulator

SAMPLE_USERS = (
    ("adele.vance@contoso.com", "3f1d7c2a-9b8e-4d6f-a5c4-1e2d3c4b5a69"),
    ("megan.bowen@contoso.com", "7a6b5c4d-3e2f-4a1b-9c8d-7e6f5a4b3c2d"),
    ("lee.gu@contoso.com", "0d9c8b7a-6f5e-4d3c-8b2a-1f0e9d8c7b6a"),
    ("nestor.wilke@contoso.com", "c1d2e3f4-a5b6-4c7d-8e9f-0a1b2c3d4e5f"),
    ("bob_fabrikam.com#EXT#@contoso.onmicrosoft.com", "5e4d3c2b-1a0f-4e9d-8c7b-6a5f4e3d2c1b"),
)
# Enough for every action and release, so a local run is not refused for want of a permission.
ALL_ROLES = [
    "User.RevokeSessions.All",
    "User.ReadBasic.All",
    "User.EnableDisableAccount.All",
    "User.Read.All",
    "IdentityRiskyUser.ReadWrite.All",
    "SecurityIdentitiesAccount.Read.All",
    "SecurityIdentitiesActions.ReadWrite.All",
]
# Synced from Active Directory: disabled in Entra ID alone, the next sync enables them again
# (POST /graphsim/directorySync plays one sync cycle).
SYNCED_USERS = ("pradeep.gupta@contoso.com",)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m graphsim", description=__doc__)
    parser.add_argument("--once", action="store_true", help="print the environment and stop (for scripts and tests)")
    args = parser.parse_args(argv)
    with GraphSimulator() as simulator:
        for upn, object_id in SAMPLE_USERS:
            simulator.add_user(upn, object_id)
        synced = [simulator.add_user(upn, synced=True) for upn in SYNCED_USERS]
        simulator.app_roles = list(ALL_ROLES)
        environment = {**simulator.environment(), "REVOKE_ARM_ENDPOINT": simulator.arm_url}
        print("# The Graph simulator is serving. Export these, then run func start or python -m revoke:")
        for name, value in environment.items():
            print(f"export {name}={shlex.quote(value)}")
        print(f"# Users: {', '.join(upn for upn, _ in SAMPLE_USERS)}.")
        for user in synced:
            print(f"# Synced from Active Directory: {user.user_principal_name} (SID {user.on_premises_sid}).")
        print(f"# A directory sync: curl -X POST {simulator.url}/graphsim/directorySync. Ctrl-C stops it.", flush=True)
        if not args.once:
            with contextlib.suppress(KeyboardInterrupt):
                threading.Event().wait()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
