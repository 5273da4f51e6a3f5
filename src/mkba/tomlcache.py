"""A persistent cache of parsed TOML documents (issue 17: a default ``mkba run`` parses 24
TOML documents, 232k characters, in 0.05-0.06 CPU-s on the main thread; unpickling them takes
about 1.5 ms).

:func:`loads` is :func:`tomllib.loads` with the parsed document kept on disk, one file per
document, named by a hash of the exact text parsed (and of this Python's version, whose
``tomllib`` parsed it, and the file format). Nothing else (path, size, modification time) is
trusted: a changed file is a different text, so it is never served an old document. A cached
file holds a header (a magic string, the text's key, a hash of the payload) and the pickled
document; it is used only when all of them check out, and unpickled by an unpickler that
accepts no classes but :mod:`datetime`'s (the only ones a TOML document holds). Anything
wrong with it (missing, truncated, flipped bytes, another format, an unreadable folder) makes
:func:`loads` parse the text as before, and the file is written again. A text that does not
parse raises exactly :func:`tomllib.loads`' error and is not cached.

The cache is used only in a folder of this user's that nobody else can write to, and a
cached file only when it is this user's (:func:`_trusted`): the header's hash catches damage,
not a forgery, so a folder others can write to (a shared ``MKBA_TOML_CACHE``, a ``/tmp``-like
``NUMBA_CACHE_DIR``) would let them choose a run's inputs; there the text is parsed each time.
The folder is made with mode 0700.

Files are written atomically (a temporary file in the same folder, then :func:`os.replace`),
so a reader never sees half a file, and two processes writing the same key write the same
bytes. Every call returns a fresh document (callers may change it).

Where (:func:`folder`): ``MKBA_TOML_CACHE`` (a folder; ``0`` turns the cache off), else
``mkba-toml`` in ``NUMBA_CACHE_DIR`` when set, else ``mkba-toml`` in this package's
``__pycache__`` (where numba keeps the package's compiled functions) when it can be written,
else ``~/.cache/mkba/toml`` (``XDG_CACHE_HOME``). The folder keeps at most
:data:`MAX_FILES` documents: when a new one would pass that, the older half is removed.
"""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import io
import os
import pickle
import stat
import sys
import time
import tomllib
from functools import cache
from pathlib import Path
from typing import Any

ENV = "MKBA_TOML_CACHE"
"""A folder for the cache, or ``0`` for no cache."""

FORMAT = 1
"""The cached files' format; part of every key (a new format never reads an old file)."""

MAGIC = b"mkba-toml\x00"
KEY_BYTES = 20
HEADER = len(MAGIC) + 2 * KEY_BYTES
SUFFIX = ".toml.pickle"

TEMPORARY_AGE_S = 3600.0
"""A temporary file older than this (seconds) is a killed writer's leftover: removed."""

MAX_FILES = 2000
"""Documents kept in the folder (a default run uses 24, of about 10 kB each)."""

_SALT = f"{FORMAT}|{sys.version}|{sys.implementation.cache_tag}\n".encode()
_DATETIME = frozenset({"datetime", "date", "time", "timedelta", "timezone"})


def _digest(data: bytes | memoryview) -> bytes:
    return hashlib.blake2b(data, digest_size=KEY_BYTES).digest()


def key(text: str) -> bytes:
    """The cache key of a TOML text: a hash of this Python's version, :data:`FORMAT` and the
    text's UTF-8 bytes (a lone surrogate, which ``tomllib`` refuses, kept as it is)."""
    return _digest(_SALT + text.encode("utf-8", "surrogatepass"))


def _writable(path: Path) -> bool:
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError:
        return False
    return os.access(path, os.W_OK | os.X_OK)


def _ours(st: os.stat_result) -> bool:
    """Whether a file or folder with status ``st`` belongs to this process's user and nobody
    else may write to it (group and others without write permission). Where there are no
    user ids (Windows) every one counts as ours."""
    if not hasattr(os, "geteuid"):
        return True
    return st.st_uid == os.geteuid() and not st.st_mode & (stat.S_IWGRP | stat.S_IWOTH)


def _trusted(where: Path) -> bool:
    """Whether the cache may use the folder ``where`` (made when missing): only a folder of
    this user's that nobody else can write to, so that no one else can plant a document
    (a cached file's hash catches damage, not a forgery)."""
    try:
        where.mkdir(mode=0o700, parents=True, exist_ok=True)  # (the umask cannot widen it)
        return _ours(os.stat(where))
    except OSError:
        return False


@cache
def _default_folder(numba: str) -> Path:
    if numba:
        return Path(numba) / "mkba-toml"
    beside = Path(__file__).resolve().parent / "__pycache__" / "mkba-toml"
    if _writable(beside):
        return beside
    home = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(home) / "mkba" / "toml"


def folder() -> Path | None:
    """The cache's folder (see the module's docstring), or None when it is turned off."""
    chosen = os.environ.get(ENV, "")
    if chosen == "0":
        return None
    if chosen:
        return Path(chosen)
    return _default_folder(os.environ.get("NUMBA_CACHE_DIR", ""))


class _Unpickler(pickle.Unpickler):
    """An unpickler for parsed TOML: plain containers, numbers and text, and datetime's
    classes; any other class in the file fails the load (the file is then ignored)."""

    def find_class(self, module: str, name: str) -> Any:
        if module == "datetime" and name in _DATETIME:
            return getattr(datetime, name)
        raise pickle.UnpicklingError(f"{module}.{name} is not allowed in a TOML cache")


def _read(path: Path, k: bytes) -> dict[str, Any] | None:
    """The document cached at ``path`` for key ``k``, or None when it is missing or anything
    about it is wrong."""
    try:
        with open(path, "rb") as f:
            if not _ours(os.fstat(f.fileno())):
                return None  # written by someone else: not trusted
            blob = f.read()
    except OSError:
        return None
    if len(blob) <= HEADER or not blob.startswith(MAGIC):
        return None
    at = len(MAGIC)
    if blob[at : at + KEY_BYTES] != k:
        return None
    payload = memoryview(blob)[HEADER:]
    if blob[at + KEY_BYTES : HEADER] != _digest(payload):
        return None
    try:
        doc = _Unpickler(io.BytesIO(payload)).load()
    except Exception:  # a cache: a file that does not load is not used
        return None
    return doc if isinstance(doc, dict) else None


def _write(where: Path, path: Path, k: bytes, doc: dict[str, Any]) -> None:
    """Store ``doc`` at ``path`` atomically; failures are ignored (the next run parses)."""
    import tempfile  # only when a document is written (the first parse of a text)

    try:
        payload = pickle.dumps(doc, protocol=pickle.HIGHEST_PROTOCOL)
        where.mkdir(mode=0o700, parents=True, exist_ok=True)
        _prune(where)
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=SUFFIX, dir=where)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(MAGIC + k + _digest(payload))
                f.write(payload)
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
    except Exception:  # a cache: a failed write changes nothing else
        return


def _prune(where: Path) -> None:
    """Remove temporary files older than :data:`TEMPORARY_AGE_S` (left by a writer killed
    before its rename), and the older half of the cached documents when the folder holds
    :data:`MAX_FILES` or more (the oldest by modification time)."""
    listed = os.listdir(where)
    stale = time.time() - TEMPORARY_AGE_S
    for n in listed:  # a writer killed between its write and its rename left these
        if n.startswith(".tmp-") and n.endswith(SUFFIX):
            with contextlib.suppress(OSError):
                if os.stat(where / n).st_mtime < stale:
                    os.unlink(where / n)
    names = [n for n in listed if n.endswith(SUFFIX) and not n.startswith(".")]
    if len(names) < MAX_FILES:
        return
    aged = []
    for n in names:
        with contextlib.suppress(OSError):
            aged.append((os.stat(where / n).st_mtime_ns, n))
    aged.sort()
    for _, n in aged[: len(aged) // 2]:
        with contextlib.suppress(OSError):
            os.unlink(where / n)


def loads(text: str) -> dict[str, Any]:
    """``tomllib.loads(text)``, from the cache when this exact text was parsed before (the
    same document, a fresh copy); errors are :func:`tomllib.loads`' own."""
    where = folder()
    if where is None or not _trusted(where):
        return tomllib.loads(text)
    k = key(text)
    path = where / (k.hex() + SUFFIX)
    doc = _read(path, k)
    if doc is not None:
        return doc
    doc = tomllib.loads(text)
    _write(where, path, k, doc)
    return doc
