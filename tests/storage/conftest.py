"""Fixtures for the storage tests: one directory of generated audio for the whole run."""

from pathlib import Path

import pytest

from app.storage.blobs import LocalBlobStore


@pytest.fixture(scope="session")
def audio_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where tests.audio_samples makes speech and garbage once, for every storage test."""
    return tmp_path_factory.mktemp("storage-audio")


@pytest.fixture
def store(tmp_path: Path) -> LocalBlobStore:
    """An empty local blob store in its own directory."""
    return LocalBlobStore(tmp_path / "blobs")
