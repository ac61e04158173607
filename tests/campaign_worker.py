"""A worker process for the campaign queue, to be killed mid-campaign: `python -m tests.campaign_worker`.

It reads the app settings from its environment, as a Functions worker does, and runs the
queue host (tests/queue_host.py) over the campaign queue and its poison queue until killed.
"""

from __future__ import annotations

import os

from graphsim.queue_host import QueueHost
from revoke.app.campaign_triggers import campaign_poison, campaign_queue

LEASE_SECONDS = int(os.environ.get("TEST_QUEUE_LEASE_SECONDS", "5"))


def main() -> None:
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
