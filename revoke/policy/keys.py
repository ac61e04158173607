"""The tenant's token-signing keys: fetched from its OpenID configuration, cached per process.

    GET {authority}/{tenant}/v2.0/.well-known/openid-configuration   -> {"jwks_uri": ...}
    GET {jwks_uri}  (on the authority's own host)                     -> {"keys": [JWK, ...]}

After the first load, the first token signed with a key the cache does not hold refreshes
the keys at once (a key the tenant published a minute after the first load is accepted
without waiting); after that, an unknown `kid` triggers at most one refresh per
REFRESH_INTERVAL_SECONDS, so a flood of made-up `kid`s costs two fetches, not one per
request. Keys older than MAX_KEY_AGE_SECONDS are refetched, so a key the tenant withdrew
stops being accepted. Every fetch is bounded by the invocation's deadline, follows
no redirect and reads at most MAX_DOCUMENT_BYTES. A fetch that fails accepts nothing: the
caller gets `KeysUnavailable` (401, try again later), and the keys already held stay.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import jwt
import requests
from urllib3.util import parse_url

from revoke.deadline import Deadline

logger = logging.getLogger(__name__)

REFRESH_INTERVAL_SECONDS = 300.0
# The one refresh an unknown kid may trigger at once after the first load waits this long after
# it: a refresh moments after a load (requests queued behind it) would fetch the same keys.
FIRST_REFRESH_AFTER_SECONDS = 10.0
# After a first load that failed (the authority was down), how soon another may be tried.
FIRST_LOAD_RETRY_SECONDS = 10.0
MAX_KEY_AGE_SECONDS = 24 * 3600.0
FETCH_CEILING_SECONDS = 5.0  # one document, whatever the deadline allows
MIN_FETCH_SECONDS = 0.2
MAX_DOCUMENT_BYTES = 256 * 1024
_CHUNK = 16 * 1024


class KeysUnavailable(Exception):
    """The keys could not be fetched (unreachable, slow, redirected, malformed, another host)."""


class UnknownKey(Exception):
    """The token names a key the tenant does not publish (or not yet, and no refresh is due)."""


def _now() -> float:
    return time.monotonic()


class SigningKeys:
    """The RS256 keys of one tenant at one authority; safe to share between threads."""

    def __init__(self, authority: str, tenant_id: str, clock: Callable[[], float] | None = None) -> None:
        self._authority = authority
        self._configuration_url = f"{authority}/{tenant_id}/v2.0/.well-known/openid-configuration"
        self._clock = clock or (lambda: _now())
        self._keys: dict[str, jwt.PyJWK] = {}
        self._loaded_at: float | None = None
        self._last_attempt: float | None = None
        self._refreshed_since_load = False  # the one refresh at once after the first load is spent
        self._lock = threading.Lock()
        self._session = requests.Session()
        self._session.trust_env = False  # no proxy from the environment sees which tenant is asked
        self.fetches = 0  # key-set fetches attempted, for the health check and the benchmark

    def key_for(self, kid: str, deadline: Deadline) -> jwt.PyJWK:
        """The key `kid` names; fetched first when the cache does not hold it and a refresh is due."""
        key = self._cached(kid)
        if key is not None:
            return key
        if not self._lock.acquire(timeout=max(0.0, deadline.remaining())):
            raise KeysUnavailable("timed out waiting for another fetch of the signing keys")
        try:
            key = self._cached(kid)  # another invocation may have fetched them meanwhile
            if key is not None:
                return key
            if not self._refresh_due():
                if self._fresh():
                    raise UnknownKey("the token names a key the tenant does not publish")
                raise KeysUnavailable("the signing keys could not be fetched recently; try again later")
            self._refresh(deadline)
        finally:
            self._lock.release()
        key = self._keys.get(kid)
        if key is None:
            raise UnknownKey("the token names a key the tenant does not publish")
        return key

    def _cached(self, kid: str) -> jwt.PyJWK | None:
        return self._keys.get(kid) if self._fresh() else None

    def _fresh(self) -> bool:
        """Keys are held and young enough to trust without asking the authority again."""
        loaded_at = self._loaded_at
        return loaded_at is not None and self._clock() - loaded_at <= MAX_KEY_AGE_SECONDS

    def _refresh_due(self) -> bool:
        if self._last_attempt is None:
            return True
        since = self._clock() - self._last_attempt
        if not self._fresh():
            # With no usable keys, every token is refused until a load works: retry soon, not at once.
            return since >= FIRST_LOAD_RETRY_SECONDS
        if not self._refreshed_since_load:
            # A key the tenant published after the first load: the first token signed with it is
            # not refused for five minutes; later unknown kids wait for the interval.
            return since >= FIRST_REFRESH_AFTER_SECONDS
        return since >= REFRESH_INTERVAL_SECONDS

    def _refresh(self, deadline: Deadline) -> None:
        if self._fresh():
            self._refreshed_since_load = True  # a refresh after a load, not the load itself
        self._last_attempt = self._clock()
        self.fetches += 1
        try:
            configuration = self._document(self._configuration_url, deadline)
            jwks_uri = configuration.get("jwks_uri") if isinstance(configuration, dict) else None
            if not isinstance(jwks_uri, str) or not self._on_authority_host(jwks_uri):
                raise KeysUnavailable("the OpenID configuration names no jwks_uri on the authority's host")
            keys = _rsa_keys(self._document(jwks_uri, deadline))
        except KeysUnavailable as problem:
            logger.warning("Could not fetch the token-signing keys: %s", problem)
            raise
        self._keys = keys
        self._loaded_at = self._clock()
        logger.info("Fetched %d token-signing key(s) from the authority", len(keys))

    def _on_authority_host(self, url: str) -> bool:
        try:
            ours, theirs = parse_url(self._authority), parse_url(url)
        except ValueError:
            return False
        return (
            theirs.scheme == ours.scheme
            and theirs.host is not None
            and theirs.host.lower() == (ours.host or "").lower()
            and theirs.port == ours.port
            and theirs.auth is None
        )

    def _document(self, url: str, deadline: Deadline) -> Any:
        """A JSON document, read within the deadline and MAX_DOCUMENT_BYTES; never a redirect."""
        ends = _now() + min(deadline.remaining(), FETCH_CEILING_SECONDS)
        wait = ends - _now()
        if wait < MIN_FETCH_SECONDS:
            raise KeysUnavailable("no time left to fetch the signing keys")
        try:
            with self._session.get(
                url, timeout=(wait, wait), allow_redirects=False, stream=True, headers={"Accept": "application/json"}
            ) as response:
                if response.status_code != 200:
                    raise KeysUnavailable(f"the authority answered HTTP {response.status_code}")
                body = bytearray()
                for chunk in response.iter_content(_CHUNK):
                    body += chunk
                    if len(body) > MAX_DOCUMENT_BYTES:
                        raise KeysUnavailable(f"the authority's document is over {MAX_DOCUMENT_BYTES} bytes")
                    if _now() > ends:
                        raise KeysUnavailable("the authority's document did not arrive in time")
        except requests.RequestException as problem:
            raise KeysUnavailable(f"the authority did not answer ({type(problem).__name__})") from None
        try:
            return json.loads(bytes(body))
        except (ValueError, RecursionError):
            raise KeysUnavailable("the authority's document is not JSON") from None


def _rsa_keys(document: Any) -> dict[str, jwt.PyJWK]:
    """The signing keys of a JWKS usable with RS256, by `kid`; a key that cannot be read is left out."""
    listed = document.get("keys") if isinstance(document, dict) else None
    if not isinstance(listed, list):
        raise KeysUnavailable("the key set has no 'keys' list")
    keys: dict[str, jwt.PyJWK] = {}
    for item in listed:
        if not isinstance(item, dict) or item.get("kty") != "RSA" or item.get("use", "sig") != "sig":
            continue
        kid = item.get("kid")
        if not isinstance(kid, str) or not kid:
            continue
        try:
            keys[kid] = jwt.PyJWK(item, algorithm="RS256")
        except (jwt.PyJWTError, ValueError, TypeError, KeyError):
            continue
    if not keys:
        raise KeysUnavailable("the key set holds no RSA signing key")
    return keys


_registry: dict[tuple[str, str], SigningKeys] = {}
_registry_lock = threading.Lock()


def signing_keys(authority: str, tenant_id: str) -> SigningKeys:
    """The process's cache for this tenant at this authority."""
    with _registry_lock:
        keys = _registry.get((authority, tenant_id))
        if keys is None:
            keys = _registry[(authority, tenant_id)] = SigningKeys(authority, tenant_id)
        return keys


def forget_signing_keys() -> None:
    """Drop every cached key set (settings re-read, or a test starting afresh)."""
    with _registry_lock:
        _registry.clear()
