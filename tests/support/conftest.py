"""The self-tests of tests/support use its fixtures like any other test package would."""

from tests.support.oidc import oidc_provider  # noqa: F401
from tests.support.push_service import push_service  # noqa: F401
from tests.support.smtp import smtp_server  # noqa: F401
