"""Schemathesis hooks for tests/api/test_schema.py: every request is made as the test's member.

The token is fetched by signing in, and fetched again after a 401 (Schemathesis
calls logout too, which revokes the token it was using)."""

import os
from typing import Any

import httpx
import schemathesis
from schemathesis.specs.openapi import stateful


@schemathesis.auth(retry_on=[401])
class MemberToken:
    def get(self, case: Any, context: Any) -> str:
        r = httpx.post(
            f"{os.environ['EARSHOT_SCHEMA_TEST_URL']}/api/v1/auth/login",
            json={
                "handle": os.environ["EARSHOT_SCHEMA_TEST_HANDLE"],
                "password": os.environ["EARSHOT_SCHEMA_TEST_PASSWORD"],
            },
            timeout=30,
        )
        r.raise_for_status()
        return str(r.json()["token"])

    def set(self, case: Any, data: str, context: Any) -> None:
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {data}"}


# Schemathesis reads `client_id` (an idempotency key) as an id of a "Client" resource
# that nothing produces, so it never starts a stateful scenario at POST /groups, where
# every link of ours (app/api/links.py) begins. Let scenarios start there.
_likely_root = stateful.is_likely_root_transition


def _groups_are_a_root(operation: Any, node: Any, produced_anywhere: set[str]) -> bool:
    if operation.label == "POST /api/v1/groups":
        return True
    return _likely_root(operation, node, produced_anywhere)


stateful.is_likely_root_transition = _groups_are_a_root
