"""The campaign's schedule (revoke/campaigns/pace.py) and graphsim's directory and write quota, as plain units."""

from __future__ import annotations

import pytest
import requests

from graphsim.campaign_tenant import GLOBAL_ADMINISTRATOR, build_tenant
from graphsim.directory import WriteQuota
from graphsim.server import GraphSimulator
from revoke.campaigns.listing import MAX_CHUNK_TARGETS, chunk_targets
from revoke.campaigns.pace import DECREASE_FACTOR, FLOOR_SHARE, Pace
from revoke.settings import Settings


def test_each_write_has_its_slot_at_the_rate() -> None:
    pace = Pace(anchor_time=1000.0, anchor_write=0, rate=20.0, target_rate=20.0)
    assert [pace.slot(w) for w in (0, 20, 300)] == [1000.0, 1001.0, 1015.0]


def test_a_429_halves_the_rate_and_nothing_after_it_goes_before_the_retry_after() -> None:
    pace = Pace(1000.0, 0, 20.0, 20.0)
    slower = pace.throttled(write=100, now=1005.0, retry_after=7.0)
    assert slower.rate == 20.0 * DECREASE_FACTOR
    assert slower.slot(100) == 1012.0
    assert slower.slot(110) == 1013.0  # the later writes slide back, at the slower rate


def test_the_rate_never_falls_below_its_floor() -> None:
    pace = Pace(0.0, 0, 20.0, 20.0)
    for _ in range(20):
        pace = pace.throttled(0, 0.0, 1.0)
    assert pace.rate == 20.0 * FLOOR_SHARE


def test_recovery_adds_back_step_by_step_without_breaking_the_schedule() -> None:
    pace = Pace(0.0, 0, 5.0, 20.0)
    faster = pace.recovered(write=50)
    assert 5.0 < faster.rate <= 20.0
    assert faster.slot(50) == pace.slot(50)  # no jump at the re-anchor
    for _ in range(50):
        faster = faster.recovered(50)
    assert faster.rate == 20.0
    assert faster.recovered(60) is faster


@pytest.mark.parametrize(
    ("quota", "share", "actions", "expected"),
    [
        ("3000/150", "0.8", 1, MAX_CHUNK_TARGETS),
        ("300/15", "0.8", 1, 12),
        ("300/15", "0.8", 2, 6),
        ("10/2", "0.8", 1, 1),
    ],
)
def test_a_chunk_is_a_small_part_of_one_quota_window(quota: str, share: str, actions: int, expected: int) -> None:
    settings = Settings.from_environment({"REVOKE_GRAPH_WRITE_QUOTA": quota, "REVOKE_CAMPAIGN_QUOTA_SHARE": share})
    assert chunk_targets(settings, actions) == expected


@pytest.mark.parametrize("raw", ["3000", "x/150", "3000/0", "0/150", "3000/-1"])
def test_a_write_quota_that_is_not_writes_per_seconds_is_refused(raw: str) -> None:
    with pytest.raises(ValueError, match="REVOKE_GRAPH_WRITE_QUOTA"):
        Settings.from_environment({"REVOKE_GRAPH_WRITE_QUOTA": raw})


def test_graphsims_quota_admits_a_window_then_answers_how_long_to_wait() -> None:
    quota = WriteQuota(3, 60.0)
    assert [quota.admit() for _ in range(3)] == [None, None, None]
    wait = quota.admit()
    assert wait is not None and 59.0 < wait <= 60.0
    assert (quota.admitted, quota.throttled) == (3, 1)


def test_graphsim_pages_nested_groups_and_answers_429_with_retry_after() -> None:
    with GraphSimulator() as graph:
        graph.directory.page_size = 4
        tenant = build_tenant(graph, members=9, guests=1, disabled=1, protected=1)
        assert tenant.group is not None
        headers = {"Authorization": f"Bearer {graph.request_token()}"}
        select = "$select=id,userPrincipalName,userType,accountEnabled"
        url = (
            f"{graph.url}/v1.0/groups/{tenant.group.object_id}/transitiveMembers/microsoft.graph.user?{select}&$top=999"
        )
        seen: list[dict[str, object]] = []
        while url:
            page = requests.get(url, headers=headers, timeout=5).json()
            seen += page["value"]
            url = page.get("@odata.nextLink")
        assert len(seen) == len({u["id"] for u in seen}) == 12  # every user once, through the cycle
        assert sum(u["userType"] == "Guest" for u in seen) == 1
        assert sum(u["accountEnabled"] is False for u in seen) == 1
        role = requests.get(
            f"{graph.url}/v1.0/directoryRoles(roleTemplateId='{GLOBAL_ADMINISTRATOR}')/members/microsoft.graph.user?{select}",
            headers=headers,
            timeout=5,
        ).json()
        assert {u["id"] for u in role["value"]} == {u.object_id for u in tenant.admins}
        graph.directory.set_write_quota(1, 30)
        first_user = tenant.members[0].object_id
        revoke = f"{graph.url}/v1.0/users/{first_user}/revokeSignInSessions"
        assert requests.post(revoke, headers=headers, timeout=5).status_code == 200
        throttled = requests.post(revoke, headers=headers, timeout=5)
        assert throttled.status_code == 429
        assert 1 <= int(throttled.headers["Retry-After"]) <= 30
        assert graph.revocations[first_user] == 1


def test_the_429s_of_one_burst_halve_the_pace_once_and_a_later_burst_again() -> None:
    from revoke.campaigns.state import pace_of, throttled

    row = {"anchorTime": 1000.0, "anchorWrite": 0, "rate": 20.0, "targetRate": 20.0}
    first = throttled(row, write=100, now=1005.0, wait=3.0, calls=4)
    same_burst = throttled(first, write=120, now=1006.0, wait=3.0, calls=4)
    later = throttled(same_burst, write=200, now=1020.0, wait=3.0, calls=1)

    assert [pace_of(r).rate for r in (first, same_burst, later)] == [10.0, 10.0, 5.0]
    assert pace_of(same_burst).slot(120) == 1010.0  # its place in the schedule, past the Retry-After (1009)
    assert later["throttled"] == 9
