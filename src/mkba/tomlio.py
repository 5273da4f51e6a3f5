"""Reading TOML and CSV input files, with errors that name the file, line and column."""

from __future__ import annotations

import csv
import re
import tomllib
from pathlib import Path
from typing import Any

from mkba import tomlcache
from mkba.errors import InputError, Problem

BOM = b"\xef\xbb\xbf"
_POS = re.compile(r"\(at line (\d+), column (\d+)\)")


def display_path(path: Path) -> str:
    """The path as a user would type it: relative to the working directory when possible."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def read_toml(path: Path) -> dict[str, Any]:
    """Parse one TOML file; malformed TOML or an unreadable file raises :class:`InputError`.

    The parse goes through :func:`mkba.tomlcache.loads` (the document of a text parsed before
    comes from the on-disk cache; the same document, the same errors)."""
    name = display_path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise InputError([Problem(name, "", "file not found")]) from None
    except (OSError, ValueError) as exc:
        raise InputError([Problem(name, "", f"cannot read file: {_cause(exc)}")]) from None
    if data.startswith(BOM):
        data = data[len(BOM) :]  # a byte-order mark (saved by Windows editors) is not content
    try:
        return tomlcache.loads(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise InputError([Problem(name, "", f"not UTF-8 text (byte {exc.start})")]) from None
    except RecursionError:
        raise InputError([Problem(name, "", "tables or arrays nested too deeply")]) from None
    except tomllib.TOMLDecodeError as exc:
        text = str(exc)
        m = _POS.search(text)
        where = f"line {m.group(1)}, column {m.group(2)}" if m else ""
        message = _POS.sub("", text).strip()
        if m and ("Cannot overwrite" in message or "Cannot declare" in message):
            lines = data.decode("utf-8").splitlines()
            line_no = int(m.group(1))
            line = lines[line_no - 1].strip() if 0 < line_no <= len(lines) else ""
            key = (
                line.strip("[]").strip() if line.startswith("[") else line.split("=", 1)[0].strip()
            )
            raise InputError(
                [Problem(name, where, f"duplicate key {key!r} (already defined above)")]
            ) from None
        raise InputError(
            [Problem(name, where, f"malformed TOML: {message}")],
        ) from None


def read_csv(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    """Read a CSV file with a header row; return (columns, rows as dicts of strings).

    Files saved by a spreadsheet are accepted: a UTF-8 byte-order mark is skipped, and a file
    whose header is separated by semicolons (Dutch Excel's default) is read with ``;``. Numbers
    with a decimal comma are read by :func:`parse_number`."""
    name = display_path(path)
    try:
        with path.open(newline="", encoding="utf-8-sig") as fh:
            head = fh.readline()
            fh.seek(0)
            delimiter = ";" if head.count(";") > head.count(",") else ","
            reader = csv.DictReader(fh, delimiter=delimiter)
            rows = list(reader)
            columns = [c.strip() for c in reader.fieldnames or []]
            if columns != list(reader.fieldnames or []):
                rows = [{k.strip() if k else k: v for k, v in r.items()} for r in rows]
    except FileNotFoundError:
        raise InputError([Problem(name, "", "file not found")]) from None
    except UnicodeDecodeError as exc:
        raise InputError([Problem(name, "", f"not UTF-8 text (byte {exc.start})")]) from None
    except (OSError, ValueError, csv.Error) as exc:
        raise InputError([Problem(name, "", f"cannot read CSV: {_cause(exc)}")]) from None
    if len(set(columns)) != len(columns):
        dup = sorted({c for c in columns if columns.count(c) > 1})
        raise InputError([Problem(name, "header", "duplicate column", dup)])
    for i, row in enumerate(rows, start=2):
        if None in row:
            raise InputError(
                [
                    Problem(
                        name,
                        f"line {i}",
                        "more fields than header columns (a decimal comma in a comma-separated "
                        "file? write 1.5, or separate the fields with ';')",
                    )
                ]
            )
        if any(v is None for v in row.values()):
            raise InputError([Problem(name, f"line {i}", "fewer fields than header columns")])
    return columns, rows


_DECIMAL_COMMA = re.compile(r"^[+-]?\d+,\d+$")
_THOUSANDS = re.compile(r"^[+-]?\d{1,3}(,\d{3})+$")


def parse_number(text: str) -> float:
    """A number from a CSV cell: ``1.5``, ``1e6``, or with a decimal comma ``1,5`` (as a
    Dutch spreadsheet writes it). ``1,500`` is ambiguous (1.5 or 1500) and is refused with a
    message saying so; so is anything else that is not a number (ValueError). ``inf`` and
    ``nan`` are returned as such: the caller checks the range."""
    t = text.strip()
    if _THOUSANDS.match(t):
        raise ValueError(
            f"{t!r} is ambiguous: a decimal comma or a thousands separator? write it with a "
            "decimal point and without thousands separators"
        )
    if _DECIMAL_COMMA.match(t):
        t = t.replace(",", ".")
    return float(t)


def _cause(exc: BaseException) -> str:
    """The cause of an OS or value error in words (``No such file or directory``...)."""
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc)
