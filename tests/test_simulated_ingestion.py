"""The simulated Logs Ingestion endpoint refuses what Microsoft documents the API refuses, over real TLS."""

from __future__ import annotations

import gzip
import json
import ssl
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from graphsim import Fault, GraphSimulator
from graphsim.ingestion import INGESTION_API_VERSION, MAX_CALL_BYTES
from graphsim.tls import authority_bundle


@pytest.fixture
def sim() -> Iterator[GraphSimulator]:
    with GraphSimulator() as simulator:
        yield simulator


def post(
    sim: GraphSimulator,
    body: bytes,
    *,
    rule: str | None = None,
    stream: str | None = None,
    audience: str = "https://monitor.azure.com",
    headers: dict[str, str] | None = None,
    version: str = INGESTION_API_VERSION,
) -> requests.Response:
    path = f"/dataCollectionRules/{rule or sim.ingestion.rule_id}/streams/{stream or sim.ingestion.stream}"
    sent = {
        "Authorization": f"Bearer {sim.issue_token(audience)}",
        "Content-Type": "application/json",
        "Content-Encoding": "gzip",
        **(headers or {}),
    }
    return requests.post(
        f"{sim.ingestion_url}{path}?api-version={version}",
        data=body,
        headers={k: v for k, v in sent.items() if v},
        verify=str(authority_bundle()),
        timeout=10,
    )


def packed(records: Any) -> bytes:
    return gzip.compress(json.dumps(records).encode())


def code(response: requests.Response) -> tuple[int, str]:
    assert response.headers["x-ms-error-code"] == response.json()["error"]["code"]
    return response.status_code, response.json()["error"]["code"]


def test_an_upload_is_answered_204_and_its_records_kept(sim: GraphSimulator) -> None:
    response = post(sim, packed([{"time": "2026-12-06T04:52:30.655Z", "outcome": "revoked"}]))

    assert (response.status_code, response.content) == (204, b"")
    assert sim.ingestion.records == [
        {"time": "2026-12-06T04:52:30.655Z", "outcome": "revoked", "TimeGenerated": "2026-12-06T04:52:30.655Z"}
    ]
    assert sim.ingestion.dropped_fields == set()


def test_uncompressed_json_is_accepted_too(sim: GraphSimulator) -> None:
    assert post(sim, json.dumps([{"outcome": "revoked"}]).encode(), headers={"Content-Encoding": ""}).status_code == 204


def test_a_field_the_stream_does_not_declare_is_noted_as_dropped(sim: GraphSimulator) -> None:
    assert post(sim, packed([{"outcome": "revoked", "secretSauce": 1}])).status_code == 204
    assert sim.ingestion.dropped_fields == {"secretSauce"}


def test_only_https_is_served() -> None:
    with GraphSimulator() as sim:
        plain = sim.ingestion_url.replace("https://", "http://")
        with pytest.raises(requests.ConnectionError):
            requests.post(plain + "/dataCollectionRules/x/streams/y", data=b"[]", timeout=5)
        with pytest.raises(requests.exceptions.SSLError):  # not trusted without the authority
            requests.post(sim.ingestion_url + "/x", data=b"[]", timeout=5, verify=ssl.get_default_verify_paths().cafile)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"rule": "dcr-" + "0" * 32}, (403, "OperationFailed")),
        ({"stream": "Custom-Other_CL"}, (400, "InvalidStream")),
        ({"audience": "https://graph.microsoft.com"}, (401, "InvalidAuthenticationTokenAudience")),
        ({"audience": "https://management.azure.com"}, (401, "InvalidAuthenticationTokenAudience")),
        ({"version": "2021-11-01-preview"}, (400, "InvalidApiVersion")),
        ({"headers": {"Content-Type": "text/plain"}}, (400, "InvalidContent")),
    ],
)
def test_what_is_refused_and_how(sim: GraphSimulator, change: dict[str, Any], expected: tuple[int, str]) -> None:
    assert code(post(sim, packed([{"outcome": "revoked"}]), **change)) == expected
    assert sim.ingestion.records == []


def test_without_the_role_on_the_rule_the_app_is_refused(sim: GraphSimulator) -> None:
    sim.ingestion.publisher = False
    assert code(post(sim, packed([{"outcome": "revoked"}]))) == (403, "OperationFailed")


def test_a_token_it_did_not_issue_is_refused(sim: GraphSimulator) -> None:
    response = requests.post(
        f"{sim.ingestion_url}/dataCollectionRules/{sim.ingestion.rule_id}/streams/{sim.ingestion.stream}"
        f"?api-version={INGESTION_API_VERSION}",
        data=packed([{}]),
        headers={"Authorization": "Bearer forged", "Content-Type": "application/json", "Content-Encoding": "gzip"},
        verify=str(authority_bundle()),
        timeout=10,
    )
    assert code(response) == (401, "InvalidAuthenticationToken")


@pytest.mark.parametrize(
    "body",
    [
        b"not gzip at all",
        gzip.compress(b"{not json")[:-4],
        gzip.compress(b'{"an": "object"}'),
        gzip.compress(b"[1, 2]"),
    ],
    ids=["not gzip", "truncated gzip", "an object, not an array", "an array of numbers"],
)
def test_a_body_that_is_not_a_gzip_json_array_of_objects_is_refused(sim: GraphSimulator, body: bytes) -> None:
    assert code(post(sim, body))[0] == 400


def test_a_call_over_one_megabyte_is_refused_compressed_or_not(sim: GraphSimulator) -> None:
    under = [{"detail": "x" * 1000} for _ in range((MAX_CALL_BYTES - 2000) // 1016)]
    assert post(sim, packed(under)).status_code == 204

    over_uncompressed = [{"detail": "x" * 1000} for _ in range(MAX_CALL_BYTES // 1000 + 10)]
    assert len(packed(over_uncompressed)) < MAX_CALL_BYTES  # it compresses well, but inflates past the limit
    assert code(post(sim, packed(over_uncompressed))) == (413, "ContentLengthLimitExceeded")

    incompressible = bytes(range(256)) * (MAX_CALL_BYTES // 256 + 10)
    assert code(post(sim, incompressible))[0] == 413


def test_faults_answer_in_the_uploads_place(sim: GraphSimulator) -> None:
    sim.inject_ingestion(Fault(status=429, headers={"Retry-After": "7"}))
    throttled = post(sim, packed([{"outcome": "revoked"}]))
    assert (throttled.status_code, throttled.headers["Retry-After"]) == (429, "7")
    assert post(sim, packed([{"outcome": "revoked"}])).status_code == 204
    assert [upload.status for upload in sim.ingestion.uploads] == [429, 204]
