"""Readers for the kinds of value many settings share (switches, bounded numbers, https origins);
each refuses a bad value with a SettingsError that names the setting."""

from __future__ import annotations

import re
from enum import StrEnum
from ipaddress import IPv4Address, IPv6Address, ip_address
from typing import TypeVar

from urllib3.exceptions import LocationParseError
from urllib3.util import Url, parse_url

from revoke.errors import SettingsError

_Choice = TypeVar("_Choice", bound=StrEnum)

_HOST_LABEL = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?")


def parse_boolean(name: str, raw: str | None, *, default: bool) -> bool:
    if raw is None:
        return default
    lowered = raw.lower()
    if lowered in {"true", "1", "yes"}:
        return True
    if lowered in {"false", "0", "no"}:
        return False
    raise SettingsError(name, f"{raw!r} is not true or false", expected="true or false")


def parse_choice(name: str, raw: str | None, default: _Choice) -> _Choice:
    """One of `default`'s enum members, by its value in any case ("entra or key")."""
    if raw is None:
        return default
    choices = type(default)
    for choice in choices:
        if choice.value == raw.lower():
            return choice
    expected = " or ".join(choice.value for choice in choices)
    raise SettingsError(name, f"{raw!r} is not {expected}", expected=expected)


def parse_integer(name: str, raw: str | None, default: int, low: int, high: int) -> int:
    return int(parse_number(name, raw, default, low, high, int, "a whole number"))


def parse_number(
    name: str, raw: str | None, default: float, low: float, high: float, parse: type[int] | type[float], kind: str
) -> float:
    if raw is None:
        return default
    expected = f"{kind} from {low} to {high}"
    try:
        number = parse(raw)
    except ValueError:
        raise SettingsError(name, f"{raw!r} is not {kind}", expected=expected) from None
    if not low <= number <= high:
        raise SettingsError(name, f"{number} is outside {low}..{high}", expected=expected)
    return number


def parse_endpoint(name: str, raw: str | None, default: str) -> str:
    """A Graph or ARM origin as urllib3 will read it, rebuilt from what urllib3 parsed.

    The token goes wherever urllib3 connects, so the check reads the value the same way:
    a URL that another parser reads differently (a backslash, userinfo) names two hosts,
    and only `scheme://host[:port]` is accepted.
    """
    if raw is None:
        return default
    endpoint = raw.removesuffix("/")
    origin = _origin(endpoint) if all(" " < c < "\x7f" and c != "\\" for c in endpoint) else None
    if origin is None:
        expected = f"an https origin such as {default} (plain http only on loopback)"
        raise SettingsError(name, f"{raw!r} must be {expected}", expected=expected)
    return origin


def _origin(endpoint: str) -> str | None:
    """`scheme://host[:port]` as urllib3 parses `endpoint`, or None if it holds anything more."""
    try:
        parts = parse_url(endpoint)
    except LocationParseError:
        return None
    host = parts.host
    if (
        host is None
        or parts.auth is not None
        or parts.path
        or parts.query is not None
        or parts.fragment is not None
        or not _is_host_name(host)
    ):
        return None
    if parts.scheme != "https" and not (parts.scheme == "http" and _is_loopback(host)):
        return None
    return str(Url(scheme=parts.scheme, host=host, port=parts.port).url)


def _is_host_name(host: str) -> bool:
    """A DNS name or an IP literal, so no resolver reads it differently from urllib3."""
    if host.startswith("["):
        return host.endswith("]") and _ip(host[1:-1]) is not None
    return _ip(host) is not None or all(_HOST_LABEL.fullmatch(label) for label in host.split("."))


def _is_loopback(host: str) -> bool:
    address = _ip(host.removeprefix("[").removesuffix("]"))
    return host == "localhost" or (address is not None and address.is_loopback)


def _ip(text: str) -> IPv4Address | IPv6Address | None:
    try:
        return ip_address(text)
    except ValueError:
        return None
