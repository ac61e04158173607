"""A worker process for the campaign queue, to be killed mid-campaign: `python -m tests.campaign_worker`.

It reads the app settings from its environment, as a Functions worker does, and runs the
queue host (graphsim/queue_host.py) over the campaign queue and its poison queue until killed.
With TEST_DIE_BEFORE_RECORDING=1 it dies by itself the moment a chunk would record what Graph
answered: Graph has acted, and the campaign's table does not know it.
"""

from __future__ import annotations

import os
from typing import Any

from graphsim.queue_host import QueueHost
from revoke.app.campaign_triggers import campaign_poison, campaign_queue
from revoke.campaigns.store import CampaignStore

LEASE_SECONDS = int(os.environ.get("TEST_QUEUE_LEASE_SECONDS", "5"))
KILLED = 9


def _die(*_: Any, **__: Any) -> None:
    os._exit(KILLED)  # as abrupt as SIGKILL: no cleanup, no message deleted


def main() -> None:
    if os.environ.get("TEST_DIE_BEFORE_RECORDING") == "1":
        CampaignStore.put_targets = _die  # type: ignore[method-assign]
    queue = os.environ["REVOKE_CAMPAIGN_QUEUE_NAME"]
    host = QueueHost(
        os.environ["AzureWebJobsStorage"],  # noqa: SIM112 - the host's own setting name
        {queue: campaign_queue, queue + "-poison": campaign_poison},
        lease_seconds=LEASE_SECONDS,
        retry_delay_seconds=1,
    )
    host.run_forever()


if __name__ == "__main__":
    main()
