"""The OpenID Connect providers an operator configures in `EARSHOT_OIDC_PROVIDERS`.

A JSON list; each provider: `name` (in URLs: a-z 0-9 - _), `issuer`, `client_id`,
`client_secret`, `display_name`, and optionally `allowed_domains` (the verified email
must be at one of them), `hd` (Google Workspace: the ID token's `hd` must equal it) and
`tid` (Microsoft Entra: the ID token's `tid` must equal it).
"""

import functools
import json

from pydantic import BaseModel, ConfigDict, Field, SecretStr, TypeAdapter, field_validator


class OidcProviderConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[a-z0-9_-]{1,32}$")
    issuer: str = Field(pattern=r"^https?://[^\s]+$", max_length=512)
    client_id: str = Field(min_length=1, max_length=512)
    client_secret: SecretStr  # never in a repr or a log
    display_name: str = Field(min_length=1, max_length=100)
    allowed_domains: list[str] = Field(default_factory=list)
    hd: str | None = None
    tid: str | None = None

    @field_validator("allowed_domains")
    @classmethod
    def _domains(cls, value: list[str]) -> list[str]:
        return [domain.strip().lower().lstrip("@") for domain in value if domain.strip()]


_PROVIDERS = TypeAdapter(list[OidcProviderConfig])


@functools.lru_cache(maxsize=8)
def parse_providers(text: str) -> dict[str, OidcProviderConfig]:
    """The providers by name; ValueError for anything malformed or a repeated name."""
    try:
        providers = _PROVIDERS.validate_python(json.loads(text or "[]"))
    except (json.JSONDecodeError, ValueError) as error:
        message = f"EARSHOT_OIDC_PROVIDERS is not a valid list of providers: {error}"
        raise ValueError(message) from None
    by_name = {provider.name: provider for provider in providers}
    if len(by_name) != len(providers):
        raise ValueError("EARSHOT_OIDC_PROVIDERS names a provider twice")
    return by_name
