"""What `earshot fsck` can find: the kinds of finding, one finding, and a whole report."""

from dataclasses import dataclass, field

GRACE_S = 600.0  # no upload takes this long between storing its original and committing its row
SHOWN_PER_KIND = 20  # findings listed per kind; the rest are counted

LOST_AUDIO = "The audio of this memo was lost from storage."
LOST_ORIGINAL = "The original recording is missing."  # as the server says when converting


@dataclass(frozen=True)
class Kind:
    name: str
    problem: bool  # False: reported for information, never changes the exit code
    about: str


MISSING_AUDIO = Kind("missing_audio", True, "ready memos whose audio is missing")
AUDIO_SIZE = Kind(
    "audio_size_mismatch", True, "ready memos whose audio is not the size the database recorded"
)
MISSING_ORIGINAL = Kind(
    "missing_original", True, "live or processing memos whose recording is missing"
)
DELETED_BLOBS = Kind("deleted_blobs", True, "blobs of deleted memos, which should be gone")
ORPHAN_BLOBS = Kind("orphan_blobs", True, "blobs of no memo, older than the grace period")
LEFTOVER_ORIGINAL = Kind(
    "leftover_original", True, "originals of ready memos, left behind after conversion"
)
STRAY_TEMP = Kind("stray_temp", True, "unfinished temporary files of interrupted writes")
EMPTY_DIRS = Kind(
    "empty_dirs", True, "empty directories of the local store, left by interrupted writes"
)
EVENT_GAP = Kind("event_gap", True, "groups whose event log does not hold every seq")
ADOPTABLE = Kind(
    "adoptable",
    False,
    "live or processing memos nobody works on: a server ends or converts them at start"
    " and at every sweep",
)
DELETED_RECENTLY = Kind(
    "deleted_recently",
    False,
    "blobs of deleted memos written within the grace period: a converter or recorder"
    " may still be finishing, and removes them",
)
IN_PROGRESS = Kind("in_progress", False, "live or processing memos a running server holds")
RECENT_BLOBS = Kind(
    "recent_blobs",
    False,
    "blobs of no memo yet, younger than the grace period: an upload may still be committing",
)
UNKNOWN_BLOBS = Kind("unknown_blobs", False, "blobs outside voice/<message id>/, never touched")

KINDS = (
    MISSING_AUDIO,
    AUDIO_SIZE,
    MISSING_ORIGINAL,
    DELETED_BLOBS,
    ORPHAN_BLOBS,
    LEFTOVER_ORIGINAL,
    STRAY_TEMP,
    EMPTY_DIRS,
    EVENT_GAP,
    ADOPTABLE,
    IN_PROGRESS,
    DELETED_RECENTLY,
    RECENT_BLOBS,
    UNKNOWN_BLOBS,
)


@dataclass(frozen=True)
class VoiceRow:
    id: str
    status: str | None
    deleted: bool
    size_bytes: int | None


@dataclass
class Finding:
    kind: Kind
    subject: str  # a message id, a blob key or prefix, or a group id
    detail: str
    memo: str | None = None  # the message id the finding is about, if any
    group: str | None = None  # the group id (event gaps)
    fix: str | None = None  # what --repair does (a key of FIXES); None: it cannot
    outcome: str | None = None  # what --repair did

    @property
    def identity(self) -> tuple[str, str]:
        return self.kind.name, self.subject


@dataclass
class Report:
    findings: list[Finding]
    memos: int = 0  # voice memos in the database
    prefixes: int = 0  # memo prefixes in the store
    grace_s: float = GRACE_S
    problems: list[Finding] = field(init=False)

    def __post_init__(self) -> None:
        self.problems = [f for f in self.findings if f.kind.problem]

    @property
    def clean(self) -> bool:
        return not self.problems

    def of(self, kind: Kind) -> list[Finding]:
        return [f for f in self.findings if f.kind == kind]
