"""A loopback Microsoft Entra ID authority: the tenant's OpenID configuration, its JWKS, and real tokens.

    GET /{tenant}/v2.0/.well-known/openid-configuration   -> {"issuer", "jwks_uri", ...}
    GET /{tenant}/discovery/v2.0/keys                      -> {"keys": [RSA JWK, ...]}

Keys are real RSA keys (`cryptography`) and tokens real RS256 JWTs (PyJWT), shaped as Entra
ID issues v2.0 access tokens to an app (client credentials) or a managed identity: `aud`,
`iss`, `tid`, `azp`, `oid`, `roles`, `iat`/`nbf`/`exp`. `rotate()` publishes a new signing
key and withdraws the oldest, as Entra ID does. `misbehave` makes the authority answer as a
broken or hostile one would (stall, redirect, malformed JSON, endless body, a jwks_uri on
another host), so the function's key fetch can be tested against each.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import threading
import time
import uuid
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

TOKEN_LIFETIME_SECONDS = 3600
MISBEHAVIOURS = ("stall", "redirect", "malformed_json", "endless_body", "foreign_jwks_uri", "server_error")


@dataclass(frozen=True)
class SigningKey:
    kid: str
    private_key: rsa.RSAPrivateKey

    def public_jwk(self) -> dict[str, Any]:
        jwk: dict[str, Any] = json.loads(RSAAlgorithm.to_jwk(self.private_key.public_key()))
        return {**jwk, "kid": self.kid, "use": "sig", "alg": "RS256"}


def new_signing_key() -> SigningKey:
    return SigningKey(secrets.token_urlsafe(16), rsa.generate_private_key(public_exponent=65537, key_size=2048))


class EntraAuthority:
    """Start with `with EntraAuthority() as authority:`; point the app at `authority.environment()`."""

    def __init__(self, *, tenant_id: str | None = None, api_client_id: str | None = None) -> None:
        self.tenant_id = tenant_id or str(uuid.uuid4())
        self.api_client_id = api_client_id or str(uuid.uuid4())
        self.keys: list[SigningKey] = [new_signing_key()]
        self.configuration_fetches = 0
        self.key_fetches = 0
        self.issued_tokens: list[str] = []
        # One of MISBEHAVIOURS, applied to `misbehave_on` ("configuration" or "keys"); None: behave.
        self.misbehave: str | None = None
        self.misbehave_on = "configuration"
        self.stall_seconds = 30.0
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._stop = threading.Event()

    # --- lifecycle -------------------------------------------------------------------
    def __enter__(self) -> EntraAuthority:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        self._stop.clear()
        handler = type("AuthorityHandler", (_Handler,), {"authority": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, args=(0.05,), name="entra-authority", daemon=True).start()

    def stop(self) -> None:
        self._stop.set()  # ends stalls and endless bodies
        if self._server is not None:
            try:
                self._server.shutdown()
            finally:
                self._server.server_close()
            self._server = None

    @property
    def url(self) -> str:
        assert self._server is not None, "the authority is not running"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def issuer(self) -> str:
        return f"{self.url}/{self.tenant_id}/v2.0"

    @property
    def api_uri(self) -> str:
        return f"api://{self.api_client_id}"

    def environment(self) -> dict[str, str]:
        """The app settings that make the function app trust this authority's tokens for its API."""
        return {
            "REVOKE_CALLER_AUTH": "entra",
            "REVOKE_AUTH_AUTHORITY": self.url,
            "REVOKE_AUTH_TENANT_ID": self.tenant_id,
            "REVOKE_AUTH_AUDIENCE": f"{self.api_client_id},{self.api_uri}",
        }

    # --- keys --------------------------------------------------------------------------
    def rotate(self) -> SigningKey:
        """Publish a new signing key and withdraw the oldest; tokens are signed with the new one."""
        key = new_signing_key()
        with self._lock:
            self.keys = [*self.keys[1:], key] if len(self.keys) > 1 else [key]
        return key

    @property
    def current_key(self) -> SigningKey:
        return self.keys[-1]

    def jwks(self) -> dict[str, Any]:
        with self._lock:
            return {"keys": [key.public_jwk() for key in self.keys]}

    # --- tokens ------------------------------------------------------------------------
    def mint(
        self,
        roles: list[str] | tuple[str, ...] = (),
        *,
        app_id: str | None = None,
        object_id: str | None = None,
        audience: str | None = None,
        tenant_id: str | None = None,
        issuer: str | None = None,
        key: SigningKey | None = None,
        kid: str | None = None,
        lifetime: int = TOKEN_LIFETIME_SECONDS,
        not_before: int = 0,
        drop: tuple[str, ...] = (),
        extra: dict[str, Any] | None = None,
    ) -> str:
        """An RS256 access token for the API, as Entra ID issues it to an app or managed identity.

        Each argument bends one claim or the signature, for the refusal tests; `drop` removes claims.
        """
        signer = key or self.current_key
        now = int(time.time())
        tenant = tenant_id or self.tenant_id
        claims: dict[str, Any] = {
            "aud": audience or self.api_client_id,
            "iss": issuer or f"{self.url}/{tenant}/v2.0",
            "iat": now,
            "nbf": now + not_before,
            "exp": now + lifetime,
            "azp": app_id or str(uuid.uuid4()),
            "azpacr": "1",
            "oid": object_id or str(uuid.uuid4()),
            "sub": object_id or str(uuid.uuid4()),
            "tid": tenant,
            "roles": list(roles),
            "ver": "2.0",
            "uti": secrets.token_urlsafe(12),
            **(extra or {}),
        }
        for name in drop:
            claims.pop(name, None)
        token = jwt.encode(claims, signer.private_key, algorithm="RS256", headers={"kid": kid or signer.kid})
        with self._lock:
            self.issued_tokens.append(token)
        return token

    def _forgery_claims(self, roles: list[str] | tuple[str, ...]) -> dict[str, Any]:
        """Claims that would pass every check: a forgery is refused for how it is signed alone."""
        now = int(time.time())
        return {
            "aud": self.api_client_id,
            "iss": self.issuer,
            "tid": self.tenant_id,
            "iat": now,
            "nbf": now,
            "exp": now + 600,
            "azp": str(uuid.uuid4()),
            "oid": str(uuid.uuid4()),
            "roles": list(roles),
        }

    def mint_unsigned(self, roles: list[str] | tuple[str, ...] = ()) -> str:
        """`alg: none`: claims that would pass, and no signature at all."""
        claims = self._forgery_claims(roles)
        unsigned: Any = None  # PyJWT's "none" algorithm takes no key
        token = jwt.encode(claims, unsigned, algorithm="none", headers={"kid": self.current_key.kid})
        with self._lock:
            self.issued_tokens.append(token)
        return token

    def mint_hs256(self, roles: list[str] | tuple[str, ...] = ()) -> str:
        """HS256 keyed with the public key's JWK text: the classic algorithm-confusion attack."""
        claims = self._forgery_claims(roles)
        # PyJWT refuses to use a public key as an HMAC secret, so this forgery is signed by hand.
        secret = self.current_key.private_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        header = {"alg": "HS256", "typ": "JWT", "kid": self.current_key.kid}
        signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
        signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
        token = f"{signing_input}.{_b64(signature)}"
        with self._lock:
            self.issued_tokens.append(token)
        return token

    # --- what it serves ----------------------------------------------------------------
    def configuration(self) -> dict[str, Any]:
        base = f"{self.url}/{self.tenant_id}"
        jwks_uri = f"{base}/discovery/v2.0/keys"
        if self.misbehave == "foreign_jwks_uri":
            jwks_uri = jwks_uri.replace("127.0.0.1", "localhost")  # the same server, under another host name
        return {
            "issuer": self.issuer,
            "jwks_uri": jwks_uri,
            "token_endpoint": f"{base}/oauth2/v2.0/token",
            "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
            "id_token_signing_alg_values_supported": ["RS256"],
        }

    def wait(self, seconds: float) -> None:
        self._stop.wait(seconds)

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class _Handler(BaseHTTPRequestHandler):
    authority: EntraAuthority
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        pass

    def do_GET(self) -> None:
        authority = self.authority
        tenant = authority.tenant_id
        if self.path == f"/{tenant}/v2.0/.well-known/openid-configuration":
            with authority._lock:
                authority.configuration_fetches += 1
            if not self._misbehaved("configuration"):
                self._send(200, json.dumps(authority.configuration()).encode())
        elif self.path == f"/{tenant}/discovery/v2.0/keys":
            with authority._lock:
                authority.key_fetches += 1
            if not self._misbehaved("keys"):
                self._send(200, json.dumps(authority.jwks()).encode())
        else:
            self._send(404, b'{"error":"not_found"}')

    def _misbehaved(self, where: str) -> bool:
        authority = self.authority
        fault = authority.misbehave
        if fault is None or fault == "foreign_jwks_uri" or authority.misbehave_on != where:
            return False
        if fault == "stall":
            authority.wait(authority.stall_seconds)
            self.close_connection = True
            return True
        if fault == "redirect":
            self.send_response(302)
            self.send_header("Location", f"{authority.url}{self.path}")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return True
        if fault == "malformed_json":
            self._send(200, b'{"keys": [{"kty": "RSA", "kid": ')
            return True
        if fault == "server_error":
            self._send(503, b'{"error":"temporarily_unavailable"}')
            return True
        if fault == "endless_body":
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            chunk = b'{"keys":[' + b" " * 8192
            try:
                while not authority.stopping:
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                    self.wfile.flush()
                    authority.wait(0.001)
            except OSError:
                pass
            self.close_connection = True
            return True
        return False

    def _send(self, status: int, payload: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)
