"""A real OpenID Connect provider for tests: panva's `oidc-provider` (npm, OpenID
certified) run by `tests/node/oidc_provider.mjs` on a free 127.0.0.1 port.

The fixture `oidc_provider` is a factory: `oidc_provider(clients=[...], accounts=[...])`
starts one provider (its own Node process, killed at teardown) and returns an
`OidcProvider` that can:
- sign a person in through the real authorization endpoint: `await sign_in(url, account)`
  with httpx (returns the redirect back to the client, `?code=..&state=..`), or
  `await fill_sign_in(page, account)` on the provider's login form in Chromium;
- rotate its signing keys (`rotate_keys`), disable an account (`set_disabled`: sign-in
  is refused with 403, refresh and userinfo stop working);
- mint ID tokens with any claims signed by its key, a foreign key or any `kid`
  (`mint_id_token`), and hand one to the relying party through the real token
  endpoint (`replace_next_id_token`).
Keys and tokens use joserfc, the JOSE library Authlib itself is built on.

Plain http on loopback needs no special setting in oidc-provider 9; PKCE (S256) is
required for every client, consent is automatic (an admin-approved district app),
and email/profile/hd/tid claims are in the ID token itself (`conformIdTokenClaims`
off), as Google Workspace and Microsoft Entra send them.
"""

import contextlib
import copy
import json
import os
import secrets
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urljoin

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import RSAKey

from tests.process import free_port
from tests.support.processes import log_tail, start_logged, stop_process

NODE_DIR = Path(__file__).resolve().parents[1] / "node"
SCRIPT = NODE_DIR / "oidc_provider.mjs"
START_TIMEOUT_S = 20.0


@dataclass(frozen=True)
class OidcClient:
    client_id: str
    client_secret: str
    redirect_uris: list[str]
    token_endpoint_auth_method: str = "client_secret_basic"

    def metadata(self) -> dict[str, Any]:
        return {
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "redirect_uris": self.redirect_uris,
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "token_endpoint_auth_method": self.token_endpoint_auth_method,
        }


@dataclass
class OidcAccount:
    """A person at the provider; `claims` adds e.g. {"hd": "district.org"} or {"tid": ...}."""

    sub: str
    email: str
    name: str
    email_verified: bool = True
    password: str = "correct horse battery staple"
    claims: dict[str, Any] = field(default_factory=dict)
    disabled: bool = False

    def state(self) -> dict[str, Any]:
        claims = {"email": self.email, "email_verified": self.email_verified, "name": self.name}
        return {
            "password": self.password,
            "disabled": self.disabled,
            "claims": claims | self.claims,
        }


class SignInRefused(Exception):
    """The provider's login form refused the person (401 wrong password, 403 disabled)."""

    def __init__(self, status_code: int, page: str) -> None:
        super().__init__(f"the provider refused the sign-in with {status_code}")
        self.status_code = status_code
        self.page = page


def new_signing_key() -> RSAKey:
    return RSAKey.generate_key(2048, parameters={"use": "sig", "alg": "RS256"}, auto_kid=True)


class OidcProvider:
    def __init__(self, issuer: str, control_url: str, clients: list[OidcClient]) -> None:
        self.issuer = issuer
        self.discovery_url = f"{issuer}/.well-known/openid-configuration"
        self.jwks_url = f"{issuer}/jwks"
        self.clients = clients
        self.accounts: dict[str, OidcAccount] = {}
        self.keys: list[RSAKey] = [new_signing_key()]  # keys[0] signs, the rest verify
        self.control_token = secrets.token_urlsafe(24)
        self._control_url = control_url

    @property
    def signing_key(self) -> RSAKey:
        return self.keys[0]

    def jwks(self, private: bool = False) -> dict[str, Any]:
        return {"keys": [key.as_dict(private=private) for key in self.keys]}

    def _push(self, **update: Any) -> None:
        response = httpx.put(
            self._control_url,
            json=update,
            headers={"authorization": f"Bearer {self.control_token}"},
        )
        response.raise_for_status()

    def push_state(self) -> None:
        """Send accounts and keys to the running provider (it rebuilds; sessions survive)."""
        accounts = {sub: account.state() for sub, account in self.accounts.items()}
        self._push(accounts=accounts, jwks=self.jwks(private=True))

    def add_account(self, account: OidcAccount) -> None:
        self.accounts[account.sub] = account
        self.push_state()

    def set_disabled(self, sub: str, disabled: bool = True) -> None:
        self.accounts[sub].disabled = disabled
        self.push_state()

    def rotate_keys(self, keep_old: bool = False) -> RSAKey:
        """A new signing key; the old one stays published (verify only) if `keep_old`."""
        self.keys = [new_signing_key(), *(self.keys if keep_old else [])]
        self.push_state()
        return self.signing_key

    def replace_next_id_token(self, id_token: str) -> None:
        """The next token endpoint response carries `id_token` instead of its own (once)."""
        self._push(next_id_token=id_token)

    def mint_id_token(
        self,
        account: OidcAccount,
        client: OidcClient,
        *,
        key: Literal["provider", "foreign"] | RSAKey = "provider",
        kid: str | None = None,
        lifetime_s: int = 600,
        **claims: Any,
    ) -> str:
        """An ID token for `account`; `claims` override or (with None) remove any claim.

        key="foreign" signs with a key the provider never published (under the provider's
        kid unless `kid` says otherwise): a bad signature.
        """
        now = int(time.time())
        payload = {
            "iss": self.issuer,
            "aud": client.client_id,
            "sub": account.sub,
            "iat": now,
            "exp": now + lifetime_s,
            "auth_time": now,
        } | account.state()["claims"]
        payload = {k: v for k, v in (payload | claims).items() if v is not None}
        if key == "provider":
            signer = self.signing_key
        elif key == "foreign":
            signer = new_signing_key()
        else:
            signer = key
        header = {"alg": "RS256", "typ": "JWT", "kid": kid or self.signing_key.kid}
        return jwt.encode(header, payload, signer)

    async def sign_in(
        self,
        authorization_url: str,
        account: OidcAccount,
        *,
        password: str | None = None,
        cancel: bool = False,
        http: httpx.AsyncClient | None = None,
    ) -> str:
        """Follow a real authorization request through the login form.

        Returns the URL the provider sent the browser back to (the client's redirect URI
        with `code` and `state`, or `error`). Raises SignInRefused if the form refuses.
        `cancel` presses Cancel instead (error=access_denied). `http` keeps the
        provider's cookies (a browser's session) across sign-ins.
        """
        owned = http is None
        http = http or httpx.AsyncClient()
        try:
            url, posted = authorization_url, False
            for _ in range(12):
                response = await http.get(url)
                if response.status_code == 200 and "/interaction/" in url and not posted:
                    form = {"login": account.email, "password": password or account.password}
                    response = await http.post(f"{url}/{'abort' if cancel else 'login'}", data=form)
                    posted = True
                    if response.status_code != 303:
                        raise SignInRefused(response.status_code, response.text)
                assert response.status_code in (302, 303), (response.status_code, response.text)
                url = urljoin(str(response.url), response.headers["location"])
                if not url.startswith(f"{self.issuer}/"):
                    return url
            raise AssertionError("the provider kept redirecting")
        finally:
            if owned:
                await http.aclose()


async def fill_sign_in(page: Any, account: OidcAccount, password: str | None = None) -> None:
    """On the provider's login page in Chromium (a Playwright Page), sign `account` in."""
    await page.get_by_label("Email or account").fill(account.email)
    await page.get_by_label("Password").fill(password or account.password)
    await page.get_by_role("button", name="Sign in").click()


def _wait_until_ready(provider: OidcProvider, proc: Any, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        if proc.poll() is not None:
            pytest.fail(f"oidc-provider exited with {proc.returncode}:\n{log_tail(log)}")
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(provider.discovery_url).status_code == 200:
                return
        if time.monotonic() > deadline:
            pytest.fail(f"oidc-provider did not answer at {provider.issuer}:\n{log_tail(log)}")
        time.sleep(0.1)


@contextlib.contextmanager
def running_oidc_provider(
    base: Path,
    *,
    clients: list[OidcClient],
    accounts: list[OidcAccount],
    issuer_path: str = "",
) -> Iterator[OidcProvider]:
    """Run a provider until the block ends. `issuer_path` (e.g. "/tenant/v2.0", as Entra
    has) puts the issuer and every endpoint under that path."""
    node = shutil.which("node")
    if node is None or not (NODE_DIR / "node_modules" / "oidc-provider").is_dir():
        pytest.fail("node or tests/node/node_modules is missing: run ./scripts/setup.sh --test")
    port = free_port()
    origin = f"http://127.0.0.1:{port}"
    provider = OidcProvider(f"{origin}{issuer_path}", f"{origin}/__control/state", clients)
    provider.accounts = {account.sub: copy.deepcopy(account) for account in accounts}  # its own
    config = {
        "host": "127.0.0.1",
        "port": port,
        "issuer": provider.issuer,
        "clients": [client.metadata() for client in clients],
        "accounts": {sub: account.state() for sub, account in provider.accounts.items()},
        "jwks": provider.jwks(private=True),
        "cookie_keys": [secrets.token_urlsafe(32)],
        "control_token": provider.control_token,
        "parent_pid": os.getpid(),  # it exits when this process is gone
    }
    base.mkdir(parents=True, exist_ok=True)
    (base / "config.json").write_text(json.dumps(config))
    log = base / "oidc-provider.log"
    proc = start_logged([node, str(SCRIPT), str(base / "config.json")], log, cwd=NODE_DIR)
    try:
        _wait_until_ready(provider, proc, log)
        yield provider
    finally:
        stop_process(proc)


@pytest.fixture
def oidc_provider(tmp_path: Path) -> Iterator[Any]:
    """Start providers with `oidc_provider(clients=..., accounts=..., issuer_path=...)`."""
    with contextlib.ExitStack() as stack:

        def start(**options: Any) -> OidcProvider:
            base = tmp_path / f"oidc-{secrets.token_hex(4)}"
            return stack.enter_context(running_oidc_provider(base, **options))

        yield start
