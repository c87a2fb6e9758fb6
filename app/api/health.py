"""Liveness and readiness for load balancers and orchestrators, and Prometheus metrics.

`/metrics` says how busy the server is and how its users behave, so it is not public:
it is routed only when EARSHOT_METRICS_TOKEN is set, and answers only a scraper that
sends that token as `Authorization: Bearer <token>`.
"""

import hmac

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST
from sqlalchemy import text

from app.api.deps import runtime
from app.errors import Unauthorized
from app.schemas import ErrorOut

router = APIRouter(tags=["operations"])
metrics_router = APIRouter(tags=["operations"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is up and serving."""
    return {"status": "ok"}


@metrics_router.get("/metrics", response_class=Response, responses={401: {"model": ErrorOut}})
async def metrics(request: Request) -> Response:
    """Prometheus metrics of this process, in the text exposition format."""
    rt = runtime(request)
    expected = f"Bearer {rt.settings.metrics_token}".encode()
    given = request.headers.get("authorization", "").encode()
    if not hmac.compare_digest(given, expected):
        raise Unauthorized(
            "Send the metrics token: Authorization: Bearer <EARSHOT_METRICS_TOKEN>.",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return Response(rt.metrics.render(), media_type=CONTENT_TYPE_LATEST)


@router.get("/readyz")
async def readyz(request: Request) -> JSONResponse:
    """The database, the broker and the blob store answer; a 503 takes this process out of
    rotation."""
    rt = runtime(request)
    checks: dict[str, str] = {}
    try:
        async with rt.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:  # any failure means not ready
        checks["database"] = f"failed: {type(exc).__name__}"
    try:
        await rt.broker.ping()
        checks["broker"] = "ok"
    except Exception as exc:
        checks["broker"] = f"failed: {type(exc).__name__}"
    try:
        await rt.blobs.ping()
        checks["storage"] = "ok"
    except Exception as exc:
        checks["storage"] = f"failed: {type(exc).__name__}"
    if all(v == "ok" for v in checks.values()):
        return JSONResponse({"status": "ok", "checks": checks})
    return JSONResponse(
        {
            "error": {
                "code": "not_ready",
                "message": "A service this server needs is unreachable.",
                "details": checks,
            }
        },
        status_code=503,
    )
