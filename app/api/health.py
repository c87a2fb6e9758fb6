"""Liveness and readiness for load balancers and orchestrators."""

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST
from sqlalchemy import text

from app.api.deps import runtime

router = APIRouter(tags=["operations"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is up and serving."""
    return {"status": "ok"}


@router.get("/metrics", response_class=Response)
async def metrics(request: Request) -> Response:
    """Prometheus metrics of this process, in the text exposition format."""
    return Response(runtime(request).metrics.render(), media_type=CONTENT_TYPE_LATEST)


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
