"""Judge-side results kept on disk between runs, one folder per grader fingerprint.

What the judge computes from the reference, the support code and the seed alone (a reference
model's outputs, gradients and structure) is the same for every run of the same grader, so a
run stores it and the next run of that grader reads it instead of building and running the
reference again. The folder is named by the grader fingerprint (assignment files, reference,
seed, autograder's source, torch and the preloaded packages), so a change to any of them
starts a fresh folder; nothing is ever looked up across fingerprints.

Values are plain data and tensors, written with ``torch.save`` and read back with
``weights_only=True`` (a file holds data, never code) and ``mmap=True`` (a large reference
state is paged in as it is read, not copied whole). The store is used only where
student code cannot write to it: workers are confined by Landlock to their scratch folder, or
run as a user of their own (a root judge); otherwise it stays off and every run computes. It
is never used inside a folder workers may read (the Python installation, ``/usr/share``...),
since what it holds is the reference's outputs. A file is written in full (and synced)
before it takes its name.
"""

from __future__ import annotations

import functools
import hashlib
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

from autograder.sandbox.limits import installation_roots, landlock_abi

# The store's folder: a path, or "off" (also "0", "none", "") to compute every run.
CACHE_ENV = "AUTOGRADER_CACHE_DIR"
_OFF = {"", "0", "off", "none"}
# A grader's folder can hold 150 MB (a large model's weights and gradients), and every change
# to the grader starts a new one: the least recently used beyond this many are removed when a new one is made.
KEPT_GRADERS = 6
# A ``.partial-*`` file this old is what a judge killed mid-write left (a write takes a second).
STALE_PARTIAL_SECONDS = 3600


def default_root() -> Path | None:
    """Where stores live: ``$AUTOGRADER_CACHE_DIR``, else ``$XDG_CACHE_HOME/autograder``
    (``~/.cache/autograder``); None when it is turned off or there is no home to hold it."""
    configured = os.environ.get(CACHE_ENV)
    if configured is not None:
        return None if configured.strip().lower() in _OFF else Path(configured).expanduser()
    base = os.environ.get("XDG_CACHE_HOME", "")
    if not os.path.isabs(base):  # unset, or relative: the XDG spec says ignore it
        try:
            base = str(Path.home() / ".cache")
        except (RuntimeError, KeyError):  # no HOME and no passwd entry
            return None
    return Path(base) / "autograder"


def workers_cannot_write_here() -> bool:
    """True where a worker cannot change a file outside its scratch folder: Landlock with
    truncation rights (ABI 3) confines it, or it runs as an unprivileged user of its own
    (the judge is root; the folders it makes are its alone, see :func:`_ours`)."""
    return landlock_abi() >= 3 or os.geteuid() == 0


def readable_by_workers(root: Path) -> str | None:
    """The worker-readable root (the Python installation, ``/usr/share``, ``/etc``, this
    package: :func:`installation_roots`) that holds ``root``, or None: expected outputs kept
    there would be open to student code. Folders are compared by device and inode, as
    Landlock sees them, so a link or a bind mount of a readable folder is found too."""
    readable = {}
    for path in installation_roots():
        try:
            info = os.stat(path)
        except OSError:
            continue
        readable[info.st_dev, info.st_ino] = path
    try:
        resolved = root.expanduser().resolve()
    except (OSError, RuntimeError):
        return str(root)
    for level in [resolved, *resolved.parents]:  # the part that exists yet
        try:
            info = os.stat(level)
        except OSError:
            continue
        if (info.st_dev, info.st_ino) in readable:
            return readable[info.st_dev, info.st_ino]
    return None


@functools.cache
def _say_not_kept(root: Path, readable: str) -> None:
    print(f"autograder: reference results are not kept in {root}: it is inside {readable}, "
          f"which sandboxed student code may read (set {CACHE_ENV} elsewhere)", file=sys.stderr)


def _ours(folder: Path) -> bool:
    """``folder`` and every folder above it that the store made or uses are this user's
    (or root's) and writable by no one else: a folder someone else could write to is no
    place to keep what decides scores."""
    for level in [folder, *folder.parents]:
        try:
            info = level.lstat()
        except FileNotFoundError:
            continue
        except OSError:
            return False
        if level.is_symlink() or info.st_uid not in (os.geteuid(), 0):
            return False
        if info.st_mode & 0o022 and not info.st_mode & 0o1000:  # shared unless sticky (/tmp)
            return False
    return True


class DiskCache:
    """One grader's kept values, under ``folder`` (created 0700), one file per key."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    @classmethod
    def for_grader(cls, fingerprint: str, root: Path | None = None) -> DiskCache | None:
        """The store of one grader, or None where there must be none (turned off, or a worker
        could write to it)."""
        root = root if root is not None else default_root()
        if root is None or not workers_cannot_write_here():
            return None
        readable = readable_by_workers(root)
        if readable is not None:
            _say_not_kept(root, readable)
            return None
        return cls(root / "reference" / fingerprint[:32])

    def is_empty(self) -> bool:
        """Nothing is kept for this grader yet (its first run on this machine)."""
        try:
            return not self.folder.is_dir() or not any(self.folder.glob("*.pt"))
        except OSError:
            return True

    def _path(self, key: str) -> Path:
        return self.folder / (hashlib.sha256(key.encode()).hexdigest()[:32] + ".pt")

    def load(self, key: str) -> Any | None:
        """The value stored under ``key``, or None (absent, unreadable or not data)."""
        path = self._path(key)
        try:
            if not path.is_file() or not _ours(path):
                return None
            stored = torch.load(path, weights_only=True, mmap=True)
        except Exception:  # unreadable, truncated, or holding more than data: a miss
            return None
        # The key is stored too: a hash collision or a file moved by hand is a miss.
        if not isinstance(stored, dict) or stored.get("key") != key:
            return None
        try:
            os.utime(self.folder)  # used now: the last folder to be pruned
        except OSError:
            pass
        return stored.get("value")

    def save(self, key: str, value: Any) -> None:
        """Store ``value`` (JSON data and tensors only) atomically; a store that cannot be
        written (a full or read-only disk) is skipped: it only saves time."""
        _refuse_other_than_data(value, key)
        temporary = None
        try:
            if not self.folder.exists():
                for level in reversed([self.folder, *self.folder.parents]):
                    if not level.exists():  # every folder it makes is the user's alone
                        level.mkdir(mode=0o700, exist_ok=True)
                _prune(self.folder.parent, keep=self.folder)
            if not _ours(self.folder):
                return
            _sweep_partials(self.folder)
            handle, temporary = tempfile.mkstemp(dir=self.folder, prefix=".partial-")
            with os.fdopen(handle, "wb") as out:
                torch.save({"key": key, "value": value}, out)
                out.flush()
                os.fsync(out.fileno())  # the new name never points at blocks not yet written
            os.replace(temporary, self._path(key))
            temporary = None
        except (OSError, RuntimeError):  # RuntimeError: torch.save on a full disk
            pass
        finally:
            if temporary is not None:
                Path(temporary).unlink(missing_ok=True)


def _refuse_other_than_data(value: Any, key: str) -> None:
    """A kept value is JSON data and plain tensors; anything else (a module, a dataclass) is
    the grader's mistake, said at once rather than found as a miss on every later run."""
    if isinstance(value, torch.Tensor):
        if type(value) is not torch.Tensor:
            raise TypeError(f"cache value {key!r} holds a {type(value).__name__}, not a plain tensor")
    elif isinstance(value, dict):
        for name, item in value.items():
            if not isinstance(name, str):
                raise TypeError(f"cache value {key!r} has a key of type {type(name).__name__}")
            _refuse_other_than_data(item, key)
    elif isinstance(value, (list, tuple)):
        for item in value:
            _refuse_other_than_data(item, key)
    elif value is not None and type(value) not in (bool, int, float, str):
        raise TypeError(f"cache value {key!r} holds a {type(value).__name__}: only data and "
                        "tensors can be kept on disk")


def _sweep_partials(folder: Path) -> None:
    """Remove the half-written files of judges killed while writing (SIGKILL runs no
    ``finally``); a younger one may be another judge's write in progress."""
    now = time.time()
    for partial in folder.glob(".partial-*"):
        try:
            if now - partial.lstat().st_mtime > STALE_PARTIAL_SECONDS:
                partial.unlink()
        except OSError:
            pass


def _prune(graders: Path, keep: Path) -> None:
    """Remove the least recently used grader folders beyond :data:`KEPT_GRADERS`."""
    def last_used(folder: Path) -> float:
        try:
            return folder.stat().st_mtime
        except OSError:
            return 0.0

    others = sorted((f for f in graders.iterdir() if f.is_dir() and f != keep),
                    key=last_used, reverse=True)
    for folder in others[KEPT_GRADERS - 1:]:
        shutil.rmtree(folder, ignore_errors=True)
