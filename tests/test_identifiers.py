"""Which identifiers may reach Graph, and how they are put in the path."""

from __future__ import annotations

import pytest

from revoke.errors import InvalidIdentifier
from revoke.identifiers import parse_user_identifier


@pytest.mark.parametrize(
    ("raw", "kind", "segment"),
    [
        ("3F1D7C2A-9B8E-4D6F-A5C4-1E2D3C4B5A69", "object_id", "3f1d7c2a-9b8e-4d6f-a5c4-1e2d3c4b5a69"),
        ("alice@contoso.com", "upn", "alice@contoso.com"),
        ("o'neil+soc@contoso.co.uk", "upn", "o%27neil%2Bsoc@contoso.co.uk"),
        ("bob_fabrikam.com#EXT#@contoso.onmicrosoft.com", "upn", "bob_fabrikam.com%23EXT%23@contoso.onmicrosoft.com"),
    ],
)
def test_valid_identifiers_become_one_encoded_path_segment(raw: str, kind: str, segment: str) -> None:
    user = parse_user_identifier(raw)

    assert user.kind == kind
    assert user.path_segment == segment
    assert "/" not in user.path_segment


@pytest.mark.parametrize(
    "raw",
    ["", "alice", "alice@", "@contoso.com", "a@b@contoso.com", "a/b@contoso.com", "a?b@contoso.com", "a#b@x/y.com",
     "a\\b@contoso.com", "a b@contoso.com", "a\tb@contoso.com", "a\x00b@contoso.com", "é@contoso.com",
     ".a@contoso.com", "a.@contoso.com", "a%2Fb@contoso.com", "a@contoso", "a@contoso..com", "a@-x.com",
     "a@1.2.3.4", "3f1d7c2a-9b8e-4d6f-a5c4-1e2d3c4b5a6", "a" * 300 + "@contoso.com", None, 7, ["a@b.com"],
     "00000000-0000-0000-0000-000000000000"],
)  # fmt: skip
def test_invalid_identifiers_are_refused(raw: object) -> None:
    with pytest.raises(InvalidIdentifier):
        parse_user_identifier(raw)


def test_upns_compare_case_insensitively() -> None:
    assert parse_user_identifier("Alice@Contoso.com").key == parse_user_identifier("alice@contoso.COM").key
