"""Talking to an OpenID Connect provider: discovery, JWKS, the code exchange, and the
full validation of its ID token.

JOSE (JWS signatures, JWKs, claim checks) is joserfc, the maintained JOSE library of
Authlib's author that Authlib itself is built on (`authlib.jose` is deprecated in its
favour). The flow around it is four plain requests, made here with a bounded client
(timeouts, no redirects, no proxies from the environment, responses capped), so
Authlib's own client adds nothing but a second HTTP stack.

Discovery documents are cached for an hour and JWKS until an ID token names a `kid`
they lack: then they are fetched again, at most every `oidc_jwks_refetch_s` per
provider (key rotation is picked up; a flood of made-up kids costs one fetch).
"""

import base64
import json
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote_plus

import httpx
from joserfc import jws, jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from joserfc.jwt import JWTClaimsRegistry

from app import outbound
from app.config import Settings
from app.errors import ApiError
from app.services.oidc_config import OidcProviderConfig

MAX_DOCUMENT_BYTES = 512 * 1024
DISCOVERY_TTL_S = 3600.0
ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512"]
LEEWAY_S = 60  # clock skew allowed on exp and iat
MAX_ID_TOKEN_AGE_S = 600  # an ID token issued longer ago than this is stale


class TokenInvalid(ApiError):
    status = 401
    code = "oidc_token_invalid"

    def __init__(self, reason: str) -> None:
        super().__init__(
            "The provider's ID token did not pass validation; sign in again.",
            details={"reason": reason},
        )


def unavailable(message: str) -> ApiError:
    return ApiError(
        f"The sign-in provider did not answer as expected: {message}",
        code="oidc_provider_unavailable",
        status=502,
    )


@dataclass
class _Cached:
    discovery: dict[str, Any] | None = None
    discovered_at: float = 0.0
    keys: KeySet | None = None
    keys_fetched_at: float = float("-inf")


@dataclass
class ProviderCache:
    """Per-process discovery documents and JWKS, by provider name."""

    entries: dict[str, _Cached] = field(default_factory=dict)

    def of(self, name: str) -> _Cached:
        return self.entries.setdefault(name, _Cached())


async def _fetch_json(settings: Settings, request: httpx.Request) -> dict[str, Any]:
    request.headers["accept-encoding"] = "identity"
    try:
        async with outbound.client(settings.oidc_timeout_s) as http:
            answer = await outbound.send_capped(http, request, MAX_DOCUMENT_BYTES)
    except httpx.HTTPError as error:
        raise unavailable(type(error).__name__) from None
    if len(answer.body) >= MAX_DOCUMENT_BYTES:
        raise unavailable("the answer is too large")
    try:
        document = json.loads(answer.body)
    except ValueError:
        raise unavailable(f"not JSON (HTTP {answer.status})") from None
    if not isinstance(document, dict):
        raise unavailable("not a JSON object")
    if answer.status != 200:
        raise unavailable(f"HTTP {answer.status} {str(document.get('error', ''))[:64]}")
    return document


async def discovery(settings: Settings, cache: ProviderCache, p: OidcProviderConfig) -> dict:
    entry = cache.of(p.name)
    if entry.discovery is None or time.monotonic() - entry.discovered_at > DISCOVERY_TTL_S:
        url = f"{p.issuer.rstrip('/')}/.well-known/openid-configuration"
        document = await _fetch_json(settings, httpx.Request("GET", url))
        if document.get("issuer") != p.issuer:
            raise unavailable("the discovery document names another issuer")
        for name in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
            if not isinstance(document.get(name), str):
                raise unavailable(f"the discovery document lacks {name}")
        entry.discovery, entry.discovered_at = document, time.monotonic()
    return entry.discovery


async def _keys(
    settings: Settings, cache: ProviderCache, p: OidcProviderConfig, kid: str | None
) -> KeySet:
    """The provider's JWKS, fetched again if it lacks `kid` (rate-limited per provider)."""
    entry = cache.of(p.name)
    known = entry.keys is not None and any(key.kid == kid for key in entry.keys)
    since = time.monotonic() - entry.keys_fetched_at
    if not known and since >= settings.oidc_jwks_refetch_s:
        document = await discovery(settings, cache, p)
        entry.keys_fetched_at = time.monotonic()
        jwks = await _fetch_json(settings, httpx.Request("GET", document["jwks_uri"]))
        try:
            entry.keys = KeySet.import_key_set(jwks)  # type: ignore[arg-type]
        except (JoseError, ValueError, TypeError, KeyError):
            raise unavailable("its JWKS is malformed") from None
    return entry.keys or KeySet([])


def _basic(client_id: str, secret: str) -> str:
    """client_secret_basic: both parts form-encoded first (RFC 6749, section 2.3.1)."""
    pair = f"{quote_plus(client_id)}:{quote_plus(secret)}".encode()
    return f"Basic {base64.b64encode(pair).decode()}"


async def exchange_code(
    settings: Settings,
    cache: ProviderCache,
    p: OidcProviderConfig,
    *,
    code: str,
    verifier: str,
    redirect_uri: str,
) -> str:
    """The ID token the token endpoint gives for `code` (client_secret_basic, PKCE)."""
    document = await discovery(settings, cache, p)
    request = httpx.Request(
        "POST",
        document["token_endpoint"],
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
            "code_verifier": verifier,
        },
        headers={
            "authorization": _basic(p.client_id, p.client_secret.get_secret_value()),
            "accept": "application/json",
        },
    )
    answer = await _fetch_json(settings, request)
    id_token = answer.get("id_token")
    if not isinstance(id_token, str) or len(id_token) > 16 * 1024:
        raise unavailable("the token endpoint sent no usable id_token")
    return id_token


async def validate_id_token(
    settings: Settings, cache: ProviderCache, p: OidcProviderConfig, id_token: str, nonce: str
) -> dict[str, Any]:
    """The claims of `id_token` once its signature (from the JWKS), iss, aud, azp, exp,
    iat and nonce are right; TokenInvalid (401, with a reason) otherwise."""
    try:
        header = jws.extract_compact(id_token.encode()).headers()
    except (JoseError, ValueError):
        raise TokenInvalid("malformed") from None
    if header.get("alg") not in ALGORITHMS:
        raise TokenInvalid("algorithm")
    kid = header.get("kid")
    keys = await _keys(settings, cache, p, kid if isinstance(kid, str) else None)
    if kid is not None and not any(key.kid == kid for key in keys):
        raise TokenInvalid("unknown_kid")
    try:
        claims = jwt.decode(id_token, keys, algorithms=ALGORITHMS).claims
    except (JoseError, ValueError):
        raise TokenInvalid("signature") from None
    registry = JWTClaimsRegistry(
        leeway=LEEWAY_S,
        iss={"essential": True, "value": p.issuer},
        sub={"essential": True},
        exp={"essential": True},
        iat={"essential": True},
        nonce={"essential": True, "value": nonce},
    )
    try:
        registry.validate(claims)
    except JoseError as error:
        claim = getattr(error, "claim", None) or "claims"
        raise TokenInvalid("expired" if claim == "exp" else str(claim)) from None
    audience = claims.get("aud")
    audiences = audience if isinstance(audience, list) else [audience]
    if p.client_id not in audiences:
        raise TokenInvalid("aud")
    if len(audiences) > 1 and claims.get("azp") != p.client_id:
        raise TokenInvalid("azp")
    if claims["iat"] < time.time() - MAX_ID_TOKEN_AGE_S - LEEWAY_S:
        raise TokenInvalid("iat")
    if not isinstance(claims["sub"], str) or not 0 < len(claims["sub"]) <= 255:
        raise TokenInvalid("sub")
    return claims
