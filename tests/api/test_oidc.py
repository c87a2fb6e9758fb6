"""District sign-in through OpenID Connect, against a real provider (panva's
oidc-provider on loopback, tests/support/oidc.py): the whole flow, account creation and
linking, domain rules, SSO-only mode, the session lifetime, and every way an ID token
can be wrong, each refused in the one error shape with no account made.

Token-level faults go through the real flow: the test mints the ID token (with the
provider's key, a foreign key, or a kid nobody published) and the provider hands it to
Earshot from its real token endpoint in place of its own (`replace_next_id_token`).
"""

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx
import pytest
from sqlalchemy import func, select, update

from app.config import Settings
from app.models import Membership, OidcSubject, Token, User, utcnow
from app.services import admin
from app.services.context import transaction
from tests.api.test_export import download, exported, ready_export
from tests.conftest import sqlite_only
from tests.helpers import Api, Person, assert_error
from tests.support.oidc import (  # noqa: F401 (the oidc_provider fixture)
    OidcAccount,
    OidcClient,
    OidcProvider,
    oidc_provider,
    running_oidc_provider,
)

ORIGIN = "http://earshot.test"
CALLBACK = f"{ORIGIN}/api/v1/auth/oidc/district/callback"
CLIENT = OidcClient("earshot-district", "client-secret-0123456789", [CALLBACK])
ALICE = OidcAccount(
    "alice-0001", "alice@district.org", "Alice Rivera", claims={"hd": "district.org"}
)
BOB = OidcAccount("bob-0002", "bob@elsewhere.org", "Bob Stone")
EVE = OidcAccount("eve-0003", "eve@district.org", "Eve Unverified", email_verified=False)
PASSWORD = "correct horse"


def configure(settings: Settings, provider: OidcProvider, **extra: Any) -> None:
    settings.public_url = ORIGIN
    settings.oidc_providers = json.dumps(
        [
            {
                "name": "district",
                "issuer": provider.issuer,
                "client_id": CLIENT.client_id,
                "client_secret": CLIENT.client_secret,
                "display_name": "District Google",
                **extra,
            }
        ]
    )


@pytest.fixture(scope="module")
def shared_district(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OidcProvider]:
    """One provider for the tests that do not change its keys (a Node process each
    would cost about a second of CI per test)."""
    base = tmp_path_factory.mktemp("oidc-district")
    with running_oidc_provider(base, clients=[CLIENT], accounts=[ALICE, BOB, EVE]) as provider:
        yield provider


@pytest.fixture
def district(shared_district: OidcProvider, settings: Settings) -> OidcProvider:
    configure(settings, shared_district)
    return shared_district


def test_the_providers_setting_is_checked_when_the_server_starts() -> None:
    one = {
        "name": "district",
        "issuer": "https://accounts.google.com",
        "client_id": "id",
        "client_secret": "s3cr3t-value",
        "display_name": "Google",
    }
    providers = json.dumps([one])
    settings = Settings(oidc_providers=providers, public_url="https://earshot.district.org")
    assert settings.oidc["district"].client_secret.get_secret_value() == "s3cr3t-value"
    assert "s3cr3t" not in repr(settings.oidc)
    with pytest.raises(ValueError, match="EARSHOT_PUBLIC_URL"):
        Settings(oidc_providers=providers)
    for wrong in ("{", json.dumps([one, one]), json.dumps([one | {"name": "Bad Name"}])):
        with pytest.raises(ValueError, match="EARSHOT_OIDC_PROVIDERS"):
            Settings(oidc_providers=wrong, public_url="https://earshot.district.org")


class Sso:
    """A browser signing in: Earshot's client (with its cookies) and the provider's."""

    def __init__(self, client: httpx.AsyncClient, provider: OidcProvider) -> None:
        self.client, self.provider = client, provider
        self.nonce = ""

    async def start(self, **params: str) -> str:
        r = await self.client.get("/api/v1/auth/oidc/district/start", params=params)
        assert r.status_code == 302, r.text
        query = parse_qs(urlparse(r.headers["location"]).query)
        assert query["code_challenge_method"] == ["S256"] and query["redirect_uri"] == [CALLBACK]
        self.nonce = query["nonce"][0]
        return str(r.headers["location"])

    async def callback(self, account: OidcAccount, forged: str | None = None, **params: str):
        url = await self.start(**params)
        back = await self.provider.sign_in(url, account)
        assert back.startswith(f"{CALLBACK}?"), back
        if forged is not None:
            self.provider.replace_next_id_token(forged)
        return await self.client.get(back.removeprefix(ORIGIN))

    async def code(self, account: OidcAccount, **params: str) -> str:
        r = await self.callback(account, **params)
        assert r.status_code == 302, r.text
        location = r.headers["location"]
        assert location.startswith(f"{ORIGIN}/#oidc_code=") and "token" not in location
        return location.split("#oidc_code=", 1)[1]

    async def exchange(self, code: str) -> httpx.Response:
        return await self.client.post("/api/v1/auth/oidc/exchange", json={"code": code})

    async def sign_in(self, account: OidcAccount, **params: str) -> dict[str, Any]:
        r = await self.exchange(await self.code(account, **params))
        assert r.status_code == 200, r.text
        return dict(r.json())


@pytest.fixture
def sso(client: httpx.AsyncClient, district: OidcProvider) -> Sso:
    return Sso(client, district)


async def count(app: Any, model: Any = User) -> int:
    async with app.state.runtime.sessions() as db:
        return int(await db.scalar(select(func.count()).select_from(model)) or 0)


async def me(client: httpx.AsyncClient, token: str) -> httpx.Response:
    return await client.get("/api/v1/me", headers={"authorization": f"Bearer {token}"})


async def test_the_providers_are_listed_without_secrets(api: Api, district: OidcProvider) -> None:
    assert await api.ok(None, "GET", "/auth/providers") == [
        {"name": "district", "display_name": "District Google"}
    ]
    assert_error(
        await api.client.get("/api/v1/auth/oidc/nobody/start"), 404, "oidc_provider_unknown"
    )


async def test_first_sign_in_makes_an_account_and_the_next_finds_it(
    app: Any, sso: Sso, client: httpx.AsyncClient
) -> None:
    first = await sso.sign_in(ALICE)
    assert first["user"]["display_name"] == ALICE.name and first["user"]["handle"] == "alice"
    profile = (await me(client, first["token"])).json()
    assert profile["email"] == ALICE.email and profile["email_verified"] is True
    assert profile["has_password"] is False
    again = await sso.sign_in(ALICE)
    assert again["user"]["id"] == first["user"]["id"] and again["token"] != first["token"]
    assert await count(app) == 1 and await count(app, OidcSubject) == 1


@sqlite_only
async def test_codes_and_states_are_single_use_and_bound_to_the_browser(
    app: Any, sso: Sso, district: OidcProvider
) -> None:
    code = await sso.code(ALICE)
    assert (await sso.exchange(code)).status_code == 200
    assert_error(await sso.exchange(code), 422, "oidc_code_invalid")
    # The provider's redirect replayed, or brought to another browser: refused.
    back = await district.sign_in(await sso.start(), ALICE)
    transport = sso.client._transport  # the same server, but a browser without the cookie
    async with httpx.AsyncClient(transport=transport, base_url=ORIGIN) as stranger:
        assert_error(await stranger.get(back.removeprefix(ORIGIN)), 400, "oidc_state_invalid")
    assert (await sso.client.get(back.removeprefix(ORIGIN))).status_code == 302
    assert_error(await sso.client.get(back.removeprefix(ORIGIN)), 400, "oidc_state_invalid")


async def test_an_sso_account_is_deleted_after_a_fresh_sign_in(
    app: Any, sso: Sso, client: httpx.AsyncClient
) -> None:
    signed_in = await sso.sign_in(ALICE)
    auth = {"authorization": f"Bearer {signed_in['token']}"}
    async with app.state.runtime.sessions() as db:  # signed in 20 minutes ago
        await db.execute(update(Token).values(created_at=utcnow() - timedelta(minutes=20)))
        await db.commit()
    stale = await client.request("DELETE", "/api/v1/me", json={"password": ""}, headers=auth)
    assert_error(stale, 403, "reauthentication_required")
    fresh = {"authorization": f"Bearer {(await sso.sign_in(ALICE))['token']}"}
    deleted = await client.request("DELETE", "/api/v1/me", json={"password": ""}, headers=fresh)
    assert deleted.status_code == 204, deleted.text
    assert await count(app, OidcSubject) == 0 and await count(app, Token) == 0
    # The provider's identity is free again: signing in makes a new account.
    assert (await sso.sign_in(ALICE))["user"]["id"] != signed_in["user"]["id"]


@sqlite_only
async def test_the_data_export_names_the_sign_in_identity(api: Api, sso: Sso) -> None:
    signed_in = await sso.sign_in(ALICE)
    alice = Person(signed_in["user"]["handle"], signed_in["token"], signed_in["user"]["id"])
    await api.ok(alice, "POST", "/me/export")
    assert (await ready_export(api, alice))["status"] == "ready"
    profile = exported(await download(api, alice), "profile.json")
    [identity] = profile["sign_in_identities"]
    assert (identity["provider"], identity["subject"]) == ("district", ALICE.sub)


@sqlite_only
async def test_the_sso_session_ends_after_its_lifetime(
    app: Any, sso: Sso, client: httpx.AsyncClient, settings: Settings
) -> None:
    settings.oidc_session_hours = 2
    token = (await sso.sign_in(ALICE))["token"]
    async with app.state.runtime.sessions() as db:
        expires_at = await db.scalar(select(Token.expires_at))
        assert expires_at is not None
        assert timedelta(hours=1.9) < expires_at - utcnow() <= timedelta(hours=2)
        await db.execute(update(Token).values(expires_at=utcnow() - timedelta(seconds=1)))
        await db.commit()
    assert_error(await me(client, token), 401)


async def test_a_disabled_account_cannot_sign_in_through_its_provider(
    app: Any, sso: Sso, client: httpx.AsyncClient
) -> None:
    first = await sso.sign_in(ALICE)
    async with transaction(app.state.runtime) as ctx:
        await admin.disable(ctx, None, first["user"]["id"], "left the district")
    assert (await me(client, first["token"])).status_code == 401
    assert_error(await sso.exchange(await sso.code(ALICE)), 403, "account_disabled")
    assert await count(app, Token) == 0  # no token was made
    async with transaction(app.state.runtime) as ctx:
        await admin.enable(ctx, None, first["user"]["id"])
    assert (await sso.sign_in(ALICE))["user"]["id"] == first["user"]["id"]


@sqlite_only
async def test_a_disabled_account_cannot_be_linked_to_a_provider(
    app: Any, api: Api, sso: Sso
) -> None:
    amy = await api.register("amy")
    async with app.state.runtime.sessions() as db:
        await db.execute(update(User).values(email=ALICE.email, email_verified_at=utcnow()))
        await db.commit()
    async with transaction(app.state.runtime) as ctx:
        await admin.disable(ctx, None, amy.id, "left the district")
    error = assert_error(await sso.exchange(await sso.code(ALICE)), 409, "link_required")
    right = {"code": error["details"]["link_code"], "password": PASSWORD}
    r = await api.client.post("/api/v1/auth/oidc/link", json=right)
    assert_error(r, 403, "account_disabled")
    assert await count(app, OidcSubject) == 0 and await count(app, Token) == 0


async def test_a_matching_verified_email_links_only_with_the_password(
    app: Any, api: Api, sso: Sso
) -> None:
    amy = await api.register("amy")
    async with app.state.runtime.sessions() as db:
        await db.execute(update(User).values(email=ALICE.email, email_verified_at=utcnow()))
        await db.commit()
    error = assert_error(await sso.exchange(await sso.code(ALICE)), 409, "link_required")
    link_code = error["details"]["link_code"]
    wrong = {"code": link_code, "password": "not the password"}
    assert_error(await api.client.post("/api/v1/auth/oidc/link", json=wrong), 403, "wrong_password")
    assert await count(app, OidcSubject) == 0
    right = {"code": link_code, "password": PASSWORD}
    linked = await api.client.post("/api/v1/auth/oidc/link", json=right)
    assert linked.status_code == 200, linked.text
    assert linked.json()["user"]["id"] == amy.id
    assert_error(
        await api.client.post("/api/v1/auth/oidc/link", json=right), 422, "oidc_code_invalid"
    )
    assert (await sso.sign_in(ALICE))["user"]["id"] == amy.id
    assert await count(app) == 1


@sqlite_only
async def test_domains_hd_and_unverified_email_are_refused(
    app: Any, sso: Sso, district: OidcProvider, settings: Settings
) -> None:
    configure(settings, district, allowed_domains=["district.org"])
    assert_error(await sso.callback(BOB), 403, "oidc_domain_not_allowed")
    assert_error(await sso.callback(EVE), 403, "oidc_email_unverified")
    configure(settings, district, hd="other-district.org")
    assert_error(await sso.callback(ALICE), 403, "oidc_domain_not_allowed")
    configure(settings, district, tid="tenant-1")  # ALICE's token carries no tid
    assert_error(await sso.callback(ALICE), 403, "oidc_domain_not_allowed")
    assert await count(app) == 0
    configure(settings, district, allowed_domains=["district.org"], hd="district.org")
    assert (await sso.sign_in(ALICE))["user"]["handle"] == "alice"


@sqlite_only
async def test_entra_tenant_and_its_email_domain_claim(
    app: Any,
    sso: Sso,
    oidc_provider: Any,  # noqa: F811
    settings: Settings,
) -> None:
    """Entra: an issuer with a path, `tid` checked, `xms_edov` instead of email_verified."""
    carol = OidcAccount(
        "carol-oid",
        "carol@district.org",
        "Carol",
        email_verified=False,
        claims={"tid": "tenant-1", "xms_edov": True},
    )
    dave = OidcAccount(
        "dave-oid", "dave@district.org", "Dave", email_verified=False, claims={"tid": "tenant-2"}
    )
    entra = oidc_provider(clients=[CLIENT], accounts=[carol, dave], issuer_path="/tenant-1/v2.0")
    configure(settings, entra, tid="tenant-1")
    sso.provider = entra
    assert_error(await sso.callback(dave), 403, "oidc_email_unverified")
    assert (await sso.sign_in(carol))["user"]["handle"] == "carol"
    assert await count(app) == 1


@sqlite_only
async def test_sso_only_mode_refuses_passwords_but_not_the_provider(
    api: Api, sso: Sso, settings: Settings
) -> None:
    await api.register("amy")
    settings.password_login = False
    assert (await api.ok(None, "GET", "/server"))["password_login"] is False
    login = {"handle": "amy", "password": PASSWORD}
    assert_error(
        await api.client.post("/api/v1/auth/login", json=login), 403, "password_login_disabled"
    )
    body = {"handle": "ben", "display_name": "Ben", "password": PASSWORD}
    assert_error(
        await api.client.post("/api/v1/auth/register", json=body), 403, "password_login_disabled"
    )
    assert (await sso.sign_in(ALICE))["user"]["handle"] == "alice"


@sqlite_only
async def test_registration_modes_apply_to_new_sso_accounts(
    app: Any, api: Api, sso: Sso, settings: Settings
) -> None:
    amy = await api.register("amy")
    gid = await api.group(amy)
    invite = (await api.ok(amy, "POST", f"/groups/{gid}/invites", json={"max_uses": 1}))["code"]
    settings.registration = "closed"
    assert_error(await sso.exchange(await sso.code(ALICE)), 403, "registration_closed")
    settings.registration = "invite"
    assert_error(await sso.exchange(await sso.code(ALICE)), 403, "invite_required")
    assert await count(app) == 1
    joined = await sso.sign_in(ALICE, invite_code=invite)
    async with app.state.runtime.sessions() as db:
        member = await db.scalar(
            select(Membership.user_id).where(
                Membership.group_id == gid, Membership.user_id == joined["user"]["id"]
            )
        )
    assert member == joined["user"]["id"]


@sqlite_only
async def test_starts_are_rate_limited_and_a_wrong_issuer_is_refused(
    api: Api, district: OidcProvider, settings: Settings
) -> None:
    start = "/api/v1/auth/oidc/district/start"
    configure(settings, district, issuer=f"{district.issuer}/")  # not what discovery names
    assert_error(await api.client.get(start), 502, "oidc_provider_unavailable")
    configure(settings, district)
    settings.limit_oidc_starts_per_hour = 2  # the refused start above counted as one
    assert (await api.client.get(start)).status_code == 302
    assert_error(await api.client.get(start), 429, "rate_limited")


@sqlite_only
async def test_cancelling_at_the_provider_makes_nothing(
    app: Any, sso: Sso, district: OidcProvider
) -> None:
    back = await district.sign_in(await sso.start(), ALICE, cancel=True)
    assert_error(await sso.client.get(back.removeprefix(ORIGIN)), 400, "oidc_denied")
    assert await count(app) == 0


def forged(provider: OidcProvider, fault: str, nonce: str, old_nonce: str) -> str:
    """An ID token for ALICE that is wrong in exactly one way."""
    if fault == "bad_signature":
        return provider.mint_id_token(ALICE, CLIENT, key="foreign", nonce=nonce)
    if fault == "wrong_aud":
        return provider.mint_id_token(ALICE, CLIENT, aud="someone-else", nonce=nonce)
    if fault == "expired":
        return provider.mint_id_token(ALICE, CLIENT, lifetime_s=-600, nonce=nonce)
    if fault == "wrong_iss":
        return provider.mint_id_token(ALICE, CLIENT, iss="https://evil.example", nonce=nonce)
    if fault == "replayed_nonce":
        return provider.mint_id_token(ALICE, CLIENT, nonce=old_nonce)
    if fault == "no_nonce":
        return provider.mint_id_token(ALICE, CLIENT, nonce=None)
    if fault == "future_iat":
        return provider.mint_id_token(ALICE, CLIENT, nonce=nonce, iat=2**31)
    assert fault == "unknown_kid"
    return provider.mint_id_token(ALICE, CLIENT, key="foreign", kid="rotated-away", nonce=nonce)


REASONS = {
    "bad_signature": "signature",
    "wrong_aud": "aud",
    "expired": "expired",
    "wrong_iss": "iss",
    "replayed_nonce": "nonce",
    "no_nonce": "nonce",
    "future_iat": "iat",
    "unknown_kid": "unknown_kid",
}


@sqlite_only
@pytest.mark.parametrize("fault", sorted(REASONS))
async def test_a_wrong_id_token_is_refused_and_makes_no_account(
    app: Any, sso: Sso, district: OidcProvider, settings: Settings, fault: str
) -> None:
    settings.oidc_jwks_refetch_s = 0  # an unknown kid refetches the JWKS every time here
    code = await sso.code(BOB)  # an earlier sign-in: its nonce is spent
    assert (await sso.exchange(code)).status_code == 200
    old_nonce = sso.nonce
    url = await sso.start()
    back = await district.sign_in(url, ALICE)
    district.replace_next_id_token(forged(district, fault, sso.nonce, old_nonce))
    error = assert_error(await sso.client.get(back.removeprefix(ORIGIN)), 401, "oidc_token_invalid")
    assert error["details"]["reason"] == REASONS[fault]
    assert await count(app) == 1  # BOB only


@sqlite_only
async def test_keys_rotated_at_the_provider_are_fetched_again(
    app: Any,
    client: httpx.AsyncClient,
    oidc_provider: Any,  # noqa: F811
    settings: Settings,
) -> None:
    district: OidcProvider = oidc_provider(clients=[CLIENT], accounts=[ALICE])  # its own keys
    configure(settings, district)
    sso = Sso(client, district)
    settings.oidc_jwks_refetch_s = 0
    first = await sso.sign_in(ALICE)
    district.rotate_keys()  # the old key is gone from the JWKS
    assert (await sso.sign_in(ALICE))["user"]["id"] == first["user"]["id"]
    # Within the refetch interval a kid nobody knows costs no new fetch: it is refused.
    settings.oidc_jwks_refetch_s = 3600
    district.rotate_keys()
    r = await sso.callback(ALICE)
    assert assert_error(r, 401, "oidc_token_invalid")["details"]["reason"] == "unknown_kid"
