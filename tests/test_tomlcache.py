"""The on-disk cache of parsed TOML (mkba.tomlcache): the same document as ``tomllib.loads``,
never an old document for a changed text, a damaged or foreign file ignored (and written
again), atomic writes, the same errors, and the run's readers going through it. The expected
documents are ``tomllib.loads``' own, computed in each test."""

from __future__ import annotations

import datetime
import math
import os
import pickle
import tomllib
from pathlib import Path
from typing import Any

import pytest

from mkba import tomlcache
from mkba.errors import InputError
from mkba.tomlio import read_toml

EVERY_TYPE = """
title = "Wijk \\u00e9 \\"quoted\\""
int = 7
big = 9223372036854775807
neg_zero = -0.0
inf = -inf
nan = nan
tiny = 5e-324
bool = true
odt = 1979-05-27T07:32:00.999999-07:00
utc = 1979-05-27T07:32:00Z
ldt = 1979-05-27T07:32:00
ld = 1979-05-27
lt = 07:32:00.5
multi = \"\"\"
two
lines\"\"\"
array = [1, 2.5, "three", [4, 5], { six = 6 }]

[table.nested]
key = "value"

[[areas]]
id = "a"
[[areas]]
id = "b"
"""


@pytest.fixture
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv(tomlcache.ENV, str(folder))
    return folder


def _cached(folder: Path) -> list[Path]:
    return sorted(folder.glob("*" + tomlcache.SUFFIX))


def _same(a: Any, b: Any) -> bool:
    """Equal with the same types all the way down (NaN equal to NaN, -0.0 not to 0.0)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float):
        return (math.isnan(a) and math.isnan(b)) or (
            a == b and math.copysign(1, a) == math.copysign(1, b)
        )
    return bool(a == b and repr(a) == repr(b))


def test_a_cached_document_is_the_parsed_one(cache_dir: Path) -> None:
    expected = tomllib.loads(EVERY_TYPE)
    first = tomlcache.loads(EVERY_TYPE)  # parsed, then written
    assert len(_cached(cache_dir)) == 1
    second = tomlcache.loads(EVERY_TYPE)  # from the file
    assert _same(first, expected) and _same(second, expected)
    assert isinstance(second["odt"].tzinfo, datetime.timezone)
    second["table"]["nested"]["key"] = "changed"  # every call a fresh document
    assert tomlcache.loads(EVERY_TYPE)["table"]["nested"]["key"] == "value"


def test_the_file_is_read_not_parsed_again(
    cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tomlcache.loads(EVERY_TYPE)
    expected = tomllib.loads(EVERY_TYPE)

    def no_parse(text: str) -> dict[str, Any]:
        raise AssertionError("parsed again")

    monkeypatch.setattr(tomlcache.tomllib, "loads", no_parse)
    assert _same(tomlcache.loads(EVERY_TYPE), expected)


def test_a_changed_file_is_never_served_stale(cache_dir: Path, tmp_path: Path) -> None:
    """Same path, same size and the same modification time: only the content differs."""
    path = tmp_path / "s.toml"
    path.write_text("draws = 1000\n", encoding="utf-8")
    stamp = path.stat().st_mtime_ns
    assert read_toml(path) == {"draws": 1000}
    path.write_text("draws = 2000\n", encoding="utf-8")
    os.utime(path, ns=(stamp, stamp))
    assert path.stat().st_size == len("draws = 1000\n") and path.stat().st_mtime_ns == stamp
    assert read_toml(path) == {"draws": 2000}
    assert len(_cached(cache_dir)) == 2


def test_another_python_or_format_has_other_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    k = tomlcache.key("a = 1\n")
    monkeypatch.setattr(tomlcache, "_SALT", b"2|another python\n")
    assert tomlcache.key("a = 1\n") != k


def _damage(path: Path, how: str) -> None:
    blob = path.read_bytes()
    payload = blob[tomlcache.HEADER :]
    if how == "truncated":
        path.write_bytes(blob[: len(blob) // 2])
    elif how == "empty":
        path.write_bytes(b"")
    elif how == "flipped":  # one bit of the payload: the payload's hash no longer matches
        at = len(blob) - 5
        path.write_bytes(blob[:at] + bytes([blob[at] ^ 1]) + blob[at + 1 :])
    elif how == "magic":
        path.write_bytes(b"x" + blob[1:])
    elif how == "other key":  # another text's document under this name
        other = tomlcache.key("a = 2\n")
        path.write_bytes(
            tomlcache.MAGIC + other + blob[len(tomlcache.MAGIC) + tomlcache.KEY_BYTES :]
        )
    elif how == "not a dict":
        bad = pickle.dumps([1, 2])
        path.write_bytes(
            blob[: tomlcache.HEADER - tomlcache.KEY_BYTES] + tomlcache._digest(bad) + bad
        )
    elif how == "foreign class":  # a well-formed file naming a class it may not load
        bad = pickle.dumps({"p": Path("x")})
        path.write_bytes(
            blob[: tomlcache.HEADER - tomlcache.KEY_BYTES] + tomlcache._digest(bad) + bad
        )
    elif how == "garbage pickle":
        bad = b"\x80\x05garbage"
        path.write_bytes(
            blob[: tomlcache.HEADER - tomlcache.KEY_BYTES] + tomlcache._digest(bad) + bad
        )
    elif how == "a folder":
        path.unlink()
        path.mkdir()
    else:
        raise AssertionError(how)
    assert payload or how  # the original payload was there


@pytest.mark.parametrize(
    "how",
    [
        "truncated",
        "empty",
        "flipped",
        "magic",
        "other key",
        "not a dict",
        "foreign class",
        "garbage pickle",
        "a folder",
    ],
)
def test_a_damaged_file_is_ignored_and_written_again(cache_dir: Path, how: str) -> None:
    tomlcache.loads(EVERY_TYPE)
    (path,) = _cached(cache_dir)
    good = path.read_bytes()
    _damage(path, how)
    assert tomlcache._read(path, tomlcache.key(EVERY_TYPE)) is None
    assert _same(tomlcache.loads(EVERY_TYPE), tomllib.loads(EVERY_TYPE))
    if how != "a folder":  # a folder in the way cannot be replaced: parsed every time
        assert path.read_bytes() == good


def test_writes_are_atomic_and_leave_no_temporary_files(
    cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tomlcache.loads("a = 1\n")
    assert [p.name for p in cache_dir.iterdir()] == [p.name for p in _cached(cache_dir)]

    def fail(src: str, dst: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(tomlcache.os, "replace", fail)
    assert tomlcache.loads("b = 2\n") == {"b": 2}  # the write failed; the document is right
    assert len(_cached(cache_dir)) == 1
    assert not [p for p in cache_dir.iterdir() if p.name.startswith(".tmp-")]


def test_an_unwritable_folder_only_costs_the_parse(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "a file"
    blocker.write_text("")
    monkeypatch.setenv(tomlcache.ENV, str(blocker / "cache"))
    assert tomlcache.loads(EVERY_TYPE)["int"] == 7


def test_turned_off(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(tomlcache.ENV, "0")
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path))
    assert tomlcache.folder() is None
    assert tomlcache.loads("a = 1\n") == {"a": 1}
    assert list(tmp_path.iterdir()) == []


def test_the_default_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(tomlcache.ENV, raising=False)
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path / "numba"))
    assert tomlcache.folder() == tmp_path / "numba" / "mkba-toml"
    monkeypatch.setenv("NUMBA_CACHE_DIR", "")
    assert tomlcache.folder() is not None


def test_errors_are_tomllibs_and_not_cached(cache_dir: Path, tmp_path: Path) -> None:
    bad = "a = 1\na = 2\n"
    with pytest.raises(tomllib.TOMLDecodeError) as ours:
        tomlcache.loads(bad)
    with pytest.raises(tomllib.TOMLDecodeError) as theirs:
        tomllib.loads(bad)
    assert str(ours.value) == str(theirs.value)
    assert _cached(cache_dir) == []
    path = tmp_path / "bad.toml"
    path.write_text(bad, encoding="utf-8")
    with pytest.raises(InputError, match="duplicate key 'a'"):
        read_toml(path)


def test_the_folder_is_kept_small(cache_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tomlcache, "MAX_FILES", 4)
    for i in range(4):
        tomlcache.loads(f"a = {i}\n")
    stamp = 10**18
    for i, p in enumerate(sorted(_cached(cache_dir), key=lambda p: p.name)):
        os.utime(p, ns=(stamp + i, stamp + i))
    kept = sorted(_cached(cache_dir), key=lambda p: p.stat().st_mtime_ns)[2:]
    tomlcache.loads("a = 99\n")  # the fifth: the older half goes first
    names = {p.name for p in _cached(cache_dir)}
    assert {p.name for p in kept} <= names and len(names) == 3


def _planted(cache_dir: Path, text: str, doc: dict[str, Any]) -> Path:
    """A well-formed cache file for ``text`` holding ``doc`` instead (a forgery: its header
    checks out, since the hash has no secret)."""
    k = tomlcache.key(text)
    payload = pickle.dumps(doc)
    path = cache_dir / (k.hex() + tomlcache.SUFFIX)
    path.write_bytes(tomlcache.MAGIC + k + tomlcache._digest(payload) + payload)
    return path


@pytest.mark.skipif(not hasattr(os, "geteuid"), reason="no user ids (Windows)")
def test_a_folder_others_can_write_to_is_not_used(cache_dir: Path) -> None:
    """A forged entry in a folder others may write to (group or world writable) is not read,
    and nothing is written there: the text is parsed each time."""
    cache_dir.mkdir(mode=0o700)
    text = "discount_rate = 0.0225\n"
    _planted(cache_dir, text, {"discount_rate": 0.1})
    assert tomlcache.loads(text) == {"discount_rate": 0.1}  # (a folder of ours: it is read)
    for mode in (0o770, 0o707, 0o777):
        cache_dir.chmod(mode)
        assert tomlcache.loads(text) == {"discount_rate": 0.0225}
        assert tomlcache.loads("other = 1\n") == {"other": 1}
        assert len(_cached(cache_dir)) == 1  # nothing written
    cache_dir.chmod(0o700)


@pytest.mark.skipif(not hasattr(os, "geteuid"), reason="no user ids (Windows)")
def test_a_file_of_another_user_is_not_used(
    cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A cached file must be this user's: in a folder that passes (its check stubbed), a
    file seen by another user (another effective uid) is ignored and the text parsed."""
    cache_dir.mkdir(mode=0o700)
    text = "discount_rate = 0.0225\n"
    _planted(cache_dir, text, {"discount_rate": 0.1})
    me = os.geteuid()
    monkeypatch.setattr(tomlcache, "_trusted", lambda where: True)
    monkeypatch.setattr(tomlcache.os, "geteuid", lambda: me + 1)
    assert tomlcache.loads(text) == {"discount_rate": 0.0225}


def test_the_folder_is_made_for_this_user_only(cache_dir: Path) -> None:
    old = os.umask(0o002)  # a group-writable umask (Debian and Ubuntu users' default)
    try:
        tomlcache.loads("a = 1\n")
    finally:
        os.umask(old)
    assert cache_dir.stat().st_mode & 0o777 == 0o700
    assert len(_cached(cache_dir)) == 1  # and so it is used


def test_a_killed_writers_temporary_file_is_removed_when_old(cache_dir: Path) -> None:
    """A temporary file older than TEMPORARY_AGE_S (a writer killed before its rename) is
    removed at the next write; a recent one (a writer at work) is left."""
    cache_dir.mkdir(mode=0o700)
    old = cache_dir / (".tmp-old" + tomlcache.SUFFIX)
    new = cache_dir / (".tmp-new" + tomlcache.SUFFIX)
    old.write_bytes(b"half")
    new.write_bytes(b"half")
    past = os.stat(old).st_mtime - tomlcache.TEMPORARY_AGE_S - 60
    os.utime(old, (past, past))
    tomlcache.loads("a = 1\n")
    assert not old.exists() and new.exists()


def test_the_run_reads_its_documents_through_the_cache(cache_dir: Path) -> None:
    """The texts catalogue, a scenario with its library, and the calibration record: the same
    documents from the cache as parsed (the run's bytes are compared in the benchmarks' notes
    and tests/test_cacheload.py runs the console run with and without)."""
    from mkba.texts import catalogue

    catalogue.cache_clear()
    try:
        parsed = catalogue()
        assert len(_cached(cache_dir)) == 1
        catalogue.cache_clear()
        assert catalogue() == parsed
    finally:
        catalogue.cache_clear()
    root = Path(__file__).resolve().parents[1]
    scenario = root / "scenarios" / "reference-2021.toml"
    assert _same(read_toml(scenario), tomllib.loads(scenario.read_text(encoding="utf-8")))
    assert _same(read_toml(scenario), tomllib.loads(scenario.read_text(encoding="utf-8")))
    assert len(_cached(cache_dir)) == 2
