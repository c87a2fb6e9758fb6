"""Free disk space: uploads stop before a full disk stops everything else."""

import os
from collections.abc import Iterable
from pathlib import Path


def free_bytes(path: Path) -> int:
    """Bytes an unprivileged process may still write on `path`'s file system (its nearest
    existing ancestor's, if `path` is not made yet)."""
    while not path.exists() and path != path.parent:
        path = path.parent
    stat = os.statvfs(path)
    return stat.f_bavail * stat.f_frsize


def short_of_space(paths: Iterable[Path], min_free_bytes: int) -> bool:
    """Whether any of `paths` has less than `min_free_bytes` free."""
    return any(free_bytes(path) < min_free_bytes for path in paths)
