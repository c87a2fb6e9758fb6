"""The test OpenID Connect provider really is one: discovery, code flow with PKCE, ID
tokens that verify against its JWKS, refused and disabled accounts, key rotation."""

import base64
import hashlib
import secrets
from typing import Any
from urllib.parse import parse_qs, urlencode, urlparse

import httpx
import pytest
from joserfc import jwt
from joserfc.errors import BadSignatureError
from joserfc.jwk import KeySet
from playwright.async_api import Browser, Route

from tests.support.oidc import (
    OidcAccount,
    OidcClient,
    OidcProvider,
    SignInRefused,
    fill_sign_in,
)

CALLBACK = "http://127.0.0.1:9/api/v1/auth/oidc/district/callback"  # never contacted
CLIENT = OidcClient("earshot", secrets.token_urlsafe(16), [CALLBACK])
ALICE = OidcAccount(
    "alice-0001", "alice@district.org", "Alice Rivera", claims={"hd": "district.org"}
)


class Flow:
    """What a relying party does: an authorization URL with PKCE, state and nonce."""

    def __init__(self, provider: OidcProvider, scope: str = "openid email profile") -> None:
        self.discovery = httpx.get(provider.discovery_url).json()
        self.verifier = secrets.token_urlsafe(48)
        digest = hashlib.sha256(self.verifier.encode()).digest()
        challenge = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
        self.state, self.nonce = secrets.token_urlsafe(8), secrets.token_urlsafe(8)
        params = {
            "client_id": CLIENT.client_id,
            "redirect_uri": CALLBACK,
            "response_type": "code",
            "scope": scope,
            "state": self.state,
            "nonce": self.nonce,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        }
        if "offline_access" in scope:
            params["prompt"] = "consent"  # OpenID Connect: offline_access needs it
        self.url = f"{self.discovery['authorization_endpoint']}?{urlencode(params)}"

    def token(self, **data: str) -> httpx.Response:
        return httpx.post(
            self.discovery["token_endpoint"],
            data=data,
            auth=(CLIENT.client_id, CLIENT.client_secret),
        )

    def exchange(self, redirected_to: str) -> dict[str, Any]:
        query = parse_qs(urlparse(redirected_to).query)
        assert query["state"] == [self.state], query
        response = self.token(
            grant_type="authorization_code",
            code=query["code"][0],
            redirect_uri=CALLBACK,
            code_verifier=self.verifier,
        )
        assert response.status_code == 200, response.text
        return response.json()

    def published_keys(self) -> KeySet:
        return KeySet.import_key_set(httpx.get(self.discovery["jwks_uri"]).json())

    def verified_claims(self, id_token: str) -> dict[str, Any]:
        return jwt.decode(id_token, self.published_keys(), algorithms=["RS256"]).claims


@pytest.fixture
def provider(oidc_provider: Any) -> OidcProvider:
    return oidc_provider(clients=[CLIENT], accounts=[ALICE])


def test_discovery_names_the_issuer_and_requires_s256(provider: OidcProvider) -> None:
    discovery = httpx.get(provider.discovery_url).json()
    assert discovery["issuer"] == provider.issuer
    assert discovery["code_challenge_methods_supported"] == ["S256"]
    assert discovery["jwks_uri"] == provider.jwks_url


async def test_code_flow_with_pkce_yields_a_verifiable_id_token(provider: OidcProvider) -> None:
    flow = Flow(provider)
    redirected_to = await provider.sign_in(flow.url, ALICE)
    assert redirected_to.startswith(f"{CALLBACK}?")
    claims = flow.verified_claims(flow.exchange(redirected_to)["id_token"])
    assert claims["iss"] == provider.issuer and claims["aud"] == CLIENT.client_id
    assert claims["nonce"] == flow.nonce and claims["sub"] == ALICE.sub
    assert claims["email"] == ALICE.email and claims["email_verified"] is True
    assert claims["name"] == ALICE.name and claims["hd"] == "district.org"


async def test_a_person_signs_in_on_the_login_page_in_chromium(
    provider: OidcProvider, browser: Browser
) -> None:
    flow = Flow(provider)
    context = await browser.new_context()
    try:
        page = await context.new_page()

        async def relying_party(route: Route) -> None:  # the callback, never a real server
            await route.fulfill(body="signed in")

        await page.route(f"{CALLBACK}?*", relying_party)
        await page.goto(flow.url)
        await fill_sign_in(page, ALICE)
        await page.wait_for_url(f"{CALLBACK}?*")
        claims = flow.verified_claims(flow.exchange(page.url)["id_token"])
        assert claims["sub"] == ALICE.sub and claims["nonce"] == flow.nonce
    finally:
        await context.close()


async def test_an_issuer_with_a_path_serves_everything_under_it(oidc_provider: Any) -> None:
    provider = oidc_provider(clients=[CLIENT], accounts=[ALICE], issuer_path="/tenant-1/v2.0")
    flow = Flow(provider)
    assert flow.discovery["authorization_endpoint"].startswith(f"{provider.issuer}/")
    claims = flow.verified_claims(
        flow.exchange(await provider.sign_in(flow.url, ALICE))["id_token"]
    )
    assert claims["iss"] == provider.issuer.rstrip("/")


async def test_a_request_without_pkce_is_refused(provider: OidcProvider) -> None:
    url = Flow(provider).url.replace("code_challenge", "no_challenge")
    redirected_to = await provider.sign_in(url, ALICE)
    assert parse_qs(urlparse(redirected_to).query)["error"] == ["invalid_request"]


async def test_wrong_password_and_disabled_account_are_refused(provider: OidcProvider) -> None:
    with pytest.raises(SignInRefused) as wrong:
        await provider.sign_in(Flow(provider).url, ALICE, password="guess")
    assert wrong.value.status_code == 401
    provider.set_disabled(ALICE.sub)
    with pytest.raises(SignInRefused) as disabled:
        await provider.sign_in(Flow(provider).url, ALICE)
    assert disabled.value.status_code == 403 and "disabled" in disabled.value.page


async def test_cancelling_at_the_provider_returns_access_denied(provider: OidcProvider) -> None:
    flow = Flow(provider)
    query = parse_qs(urlparse(await provider.sign_in(flow.url, ALICE, cancel=True)).query)
    assert query["error"] == ["access_denied"] and query["state"] == [flow.state]


async def test_a_disabled_account_cannot_refresh(provider: OidcProvider) -> None:
    flow = Flow(provider, scope="openid email offline_access")
    refresh_token = flow.exchange(await provider.sign_in(flow.url, ALICE))["refresh_token"]
    refreshed = flow.token(grant_type="refresh_token", refresh_token=refresh_token)
    assert refreshed.status_code == 200, refreshed.text
    provider.set_disabled(ALICE.sub)
    refused = flow.token(
        grant_type="refresh_token", refresh_token=refreshed.json()["refresh_token"]
    )
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_grant"


async def test_rotated_keys_sign_new_tokens_and_the_old_kid_disappears(
    provider: OidcProvider,
) -> None:
    old_kid = provider.signing_key.kid
    new_kid = provider.rotate_keys().kid
    flow = Flow(provider)
    assert [key.kid for key in flow.published_keys()] == [new_kid] and new_kid != old_kid
    id_token = flow.exchange(await provider.sign_in(flow.url, ALICE))["id_token"]
    assert jwt.decode(id_token, provider.signing_key).header["kid"] == new_kid


async def test_a_minted_token_reaches_the_client_through_the_token_endpoint(
    provider: OidcProvider,
) -> None:
    flow = Flow(provider)
    redirected_to = await provider.sign_in(flow.url, ALICE)
    forged = provider.mint_id_token(ALICE, CLIENT, nonce=flow.nonce, aud="someone-else")
    provider.replace_next_id_token(forged)
    id_token = flow.exchange(redirected_to)["id_token"]
    assert id_token == forged and flow.verified_claims(id_token)["aud"] == "someone-else"


def test_a_token_minted_with_a_foreign_key_fails_verification(provider: OidcProvider) -> None:
    keys = KeySet.import_key_set(provider.jwks())
    good = provider.mint_id_token(ALICE, CLIENT, email=None)
    assert "email" not in jwt.decode(good, keys).claims
    with pytest.raises(BadSignatureError):
        jwt.decode(provider.mint_id_token(ALICE, CLIENT, key="foreign"), keys)
