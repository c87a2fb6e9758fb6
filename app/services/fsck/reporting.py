"""Reporting: what was checked, and the findings as a person reads them."""

from urllib.parse import urlsplit

from sqlalchemy.engine import make_url

from app.config import Settings
from app.services.fsck.findings import KINDS, SHOWN_PER_KIND, Report


def describe_target(settings: Settings) -> str:
    """Which database and store are checked (without passwords or keys)."""
    database = make_url(settings.resolved_database_url).render_as_string(hide_password=True)
    if settings.storage_url:
        url = urlsplit(settings.storage_url)
        store = f"{url.scheme}://{url.netloc}{url.path}"
    else:
        store = str(settings.data_dir / "blobs")
    return f"Database: {database}\nBlob store: {store}"


def render(report: Report) -> str:
    """The report as a person reads it: problems first, then notes, then the verdict."""
    lines = [
        f"Checked {report.memos} voice memos and {report.prefixes} memo prefixes in the store"
        f" (grace period {report.grace_s:g} s)."
    ]
    for title, problem in (("Problems", True), ("Notes (not problems)", False)):
        kinds = [k for k in KINDS if k.problem == problem and report.of(k)]
        if kinds:
            lines += ["", f"{title}:"]
        for kind in kinds:
            found = report.of(kind)
            lines.append(f"  {kind.name} ({len(found)}): {kind.about}")
            for finding in found[:SHOWN_PER_KIND]:
                line = f"    {finding.subject}  {finding.detail}"
                if finding.outcome:
                    line += f"  -> {finding.outcome}"
                elif problem and finding.fix is None:
                    line += "  (not repaired automatically: look into it)"
                lines.append(line)
            if len(found) > SHOWN_PER_KIND:
                lines.append(f"    ... and {len(found) - SHOWN_PER_KIND} more")
    lines += ["", summary(report)]
    return "\n".join(lines)


def summary(report: Report) -> str:
    if report.clean:
        return "Clean: the database and the store agree."
    fixable = sum(1 for f in report.problems if f.fix)
    tried = [f.outcome for f in report.problems if f.outcome]
    if tried:
        skipped = sum(1 for outcome in tried if outcome.startswith("skipped"))
        return (
            f"{len(report.problems)} problem(s) found; {len(tried) - skipped} repaired,"
            f" {skipped} skipped."
        )
    return (
        f"{len(report.problems)} problem(s) found; `earshot fsck --repair` fixes {fixable} of them."
    )
