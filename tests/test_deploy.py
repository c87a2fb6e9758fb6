"""The production shape users start with `docker compose up`: checked by reading the files
(no Docker engine runs here)."""

import re
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def _env(service: dict[str, Any]) -> dict[str, str]:
    env = service["environment"]
    return env if isinstance(env, dict) else dict(item.split("=", 1) for item in env)


def test_all_parts_of_the_production_shape_are_there(compose: dict[str, Any]) -> None:
    assert {"api", "proxy", "postgres", "redis", "minio"} <= set(compose["services"])


def test_api_replicas_share_postgres_redis_storage_and_one_secret(
    compose: dict[str, Any],
) -> None:
    api = compose["services"]["api"]
    env = _env(api)
    assert re.match(r"postgresql\+asyncpg://[^@]+@postgres:5432/\w+", env["EARSHOT_DATABASE_URL"])
    assert env["EARSHOT_REDIS_URL"].startswith("redis://redis:6379")
    assert env["EARSHOT_SECRET_KEY"].startswith("${EARSHOT_SECRET_KEY:?"), (
        "required, never a default"
    )
    assert api["deploy"]["replicas"] >= 2
    storage = urlsplit(env["EARSHOT_STORAGE_URL"])
    assert storage.scheme == "s3" and storage.netloc == "earshot"
    assert parse_qs(storage.query)["endpoint"] == ["http://minio:9000"]
    bucket_made = " ".join(compose["services"]["minio-init"]["command"])
    assert "local/earshot" in bucket_made
    minio = compose["services"]["minio"]["environment"]
    assert env["AWS_ACCESS_KEY_ID"] == minio["MINIO_ROOT_USER"]
    assert env["AWS_SECRET_ACCESS_KEY"] == minio["MINIO_ROOT_PASSWORD"]


def test_production_takes_new_accounts_by_invite(compose: dict[str, Any]) -> None:
    env = _env(compose["services"]["api"])
    assert env["EARSHOT_REGISTRATION"] == "${EARSHOT_REGISTRATION:-invite}"
    assert env["EARSHOT_REGISTRATION_EMAIL_DOMAINS"] == "${EARSHOT_REGISTRATION_EMAIL_DOMAINS:-}"


def test_only_the_proxy_is_reachable_from_the_host(compose: dict[str, Any]) -> None:
    published = {name for name, svc in compose["services"].items() if svc.get("ports")}
    assert published == {"proxy"}
    assert "8000:8000" in compose["services"]["proxy"]["ports"]


def test_proxy_routes_to_the_api_and_passes_websocket_upgrades(compose: dict[str, Any]) -> None:
    proxy = compose["services"]["proxy"]
    mounted = [v.split(":")[0] for v in proxy["volumes"] if v.startswith("./")]
    config = (ROOT / mounted[0]).read_text()
    assert "reverse_proxy" in config and re.search(r"\bname api\b", config)
    assert "Upgrade" in config and "Connection" in config


def test_api_waits_for_healthy_dependencies(compose: dict[str, Any]) -> None:
    services = compose["services"]
    depends = services["api"]["depends_on"]
    for name in ("postgres", "redis", "minio"):
        assert depends[name]["condition"] == "service_healthy"
        assert services[name]["healthcheck"]["test"], f"{name} has a health check"
    assert "readyz" in " ".join(services["api"]["healthcheck"]["test"])


def test_stateful_services_keep_data_on_declared_volumes(compose: dict[str, Any]) -> None:
    declared = set(compose["volumes"])
    for name, path in (("postgres", "/var/lib/postgresql/data"), ("minio", "/data")):
        volumes = compose["services"][name]["volumes"]
        named = [v.split(":")[0] for v in volumes if v.endswith(path)]
        assert named and named[0] in declared, name


def test_dockerfile_installs_ffmpeg_runs_unprivileged_and_serves() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert re.search(r"apt-get install[^\n]*ffmpeg", dockerfile)
    users = re.findall(r"^USER (\S+)", dockerfile, re.M)
    assert users and users[-1] not in ("root", "0")
    assert '"earshot", "serve"' in dockerfile and "HEALTHCHECK" in dockerfile
