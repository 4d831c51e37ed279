"""One process at a time per embedded store folder: an exclusive file lock, and who holds it."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import portalocker

from advisor.errors import StoreError

OWNER_FILE = "advisor-owner.json"
LOCK_FILE = ".advisor.lock"


def describe_owner(folder: Path) -> str:
    """'process 1234 (advisor serve)' from the owner file the holder wrote, else 'another process'."""
    try:
        owner = json.loads((folder / OWNER_FILE).read_text())
        return f"process {owner['pid']} ({owner['command']})"
    except (OSError, ValueError, KeyError, TypeError):
        return "another process"


def in_use_error(folder: Path) -> StoreError:
    return StoreError(
        f"the store at {folder} is in use by {describe_owner(folder)}; the embedded store allows one process at a "
        "time: stop that process (or use the running app/HTTP API instead), or set ADVISOR_QDRANT_URL to a Qdrant server"
    )


def check_folder(folder: Path) -> None:
    """A clear error when the store path cannot be a folder (it is a file, or cannot be made)."""
    if folder.exists() and not folder.is_dir():
        raise StoreError(f"the store path {folder} is a file, not a folder: move it away or set ADVISOR_QDRANT_PATH "
                         "(or ADVISOR_DATA_DIR) to a folder")
    for parent in folder.parents:
        if parent.exists() and not parent.is_dir():
            raise StoreError(f"the store path {folder} cannot be made: {parent} is a file")
        if parent.exists():
            break
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreError(f"cannot make the store folder {folder}: {exc.strerror or exc}") from None


def write_owner(folder: Path) -> None:
    command = " ".join(Path(a).name if i == 0 else a for i, a in enumerate(sys.argv[:3]))
    try:
        (folder / OWNER_FILE).write_text(json.dumps({"pid": os.getpid(), "command": command}))
    except OSError:
        pass


class FolderLock:
    """Holds an exclusive, non-blocking lock on `folder` until release() (or process exit)."""

    def __init__(self, folder: Path):
        self.folder = folder
        self._file = None
        try:
            handle = open(folder / LOCK_FILE, "a+")
        except OSError as exc:
            raise StoreError(f"cannot open the store folder {folder}: {exc.strerror or exc}") from None
        try:
            portalocker.lock(handle, portalocker.LOCK_EX | portalocker.LOCK_NB)
        except portalocker.exceptions.LockException:
            handle.close()
            raise in_use_error(folder) from None
        self._file = handle
        write_owner(folder)

    def release(self) -> None:
        if self._file is not None:
            try:
                portalocker.unlock(self._file)
            finally:
                self._file.close()
                self._file = None
