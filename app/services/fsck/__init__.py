"""`earshot fsck`: does the database agree with the blob store, and what can safely be put right.

What must hold follows from DESIGN.md's first principle (nothing a user sent is
lost; no blob without a row, no row pointing to a missing blob) and from the
order in which the voice pipeline writes:

- a memo's blobs live under `voice/<message id>/` (`app.storage.keys`);
- an upload's original is stored just *before* its row commits (and a live
  memo's empty original just before its row commits), so a running server has,
  for a moment, blobs without a row; a prefix without a row is called an orphan
  only when its newest blob is older than the grace period;
- a `ready` memo has its `audio.ogg`, of the size recorded in the row; its
  original is deleted just after `ready` commits (a crash in between leaves it);
- a `live` or `processing` memo has its original; one that no running server
  holds is adopted by the next server's sweep, so it is a note, not a problem;
- a deleted memo (a tombstone) has no blobs: they are removed just after the
  tombstone commits (a crash in between leaves them), and a conversion or live
  recording still running removes what it writes after the delete, so only
  blobs older than the grace period count;
- each group's events hold every seq from 1 to the group's `last_seq`.

Checking reads the database first and the store second, so whatever a row
promised was written before the store is listed. Every problem is then looked at
again (its row, its prefix, its row once more) and kept only if it is still there
and the row held still meanwhile, so a memo that moved on is not reported. Each
repair re-checks its own condition just before acting, and none deletes a row.

The package is split by role: `findings` (what can be found), `checking`,
`repairing` and `reporting`; this module runs them against the server's own
database and store (`app.services.context.open_runtime`).
"""

from collections.abc import Callable
from pathlib import Path

from sqlalchemy.engine import make_url

from app.config import Settings
from app.services.context import open_runtime
from app.services.fsck.checking import check
from app.services.fsck.findings import *  # noqa: F403  (the kinds of finding, for callers)
from app.services.fsck.findings import GRACE_S
from app.services.fsck.repairing import repair
from app.services.fsck.reporting import describe_target, render, summary


def _require_database(settings: Settings) -> None:
    """Refuse a SQLite file that does not exist, rather than make an empty one and check it."""
    url = make_url(settings.resolved_database_url)
    if url.get_backend_name() == "sqlite" and url.database and not Path(url.database).exists():
        raise FileNotFoundError(
            f"there is no database at {url.database}: set EARSHOT_DATA_DIR or EARSHOT_DATABASE_URL"
        )


async def run(
    settings: Settings,
    *,
    repair_too: bool = False,
    grace_s: float = GRACE_S,
    say: Callable[[str], None] = print,
) -> int:
    """Check (and repair); print the report. 0: no problem is left; 1: some are."""
    _require_database(settings)
    async with open_runtime(settings, shared=repair_too) as rt:
        say(describe_target(settings))
        report = await check(rt, grace_s)
        if not repair_too or report.clean:
            say(render(report))
            return 0 if report.clean else 1
        await repair(rt, report)
        say(render(report))
        after = await check(rt, grace_s)  # what the repairs left: this decides the exit code
        say("\nChecked again after repairing:")
        say(render(after) if not after.clean else summary(after))
        return 0 if after.clean else 1
