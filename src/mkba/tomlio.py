"""Reading TOML and CSV input files, with errors that name the file, line and column."""

from __future__ import annotations

import csv
import re
import tomllib
from pathlib import Path
from typing import Any

from mkba.errors import InputError, Problem

_POS = re.compile(r"\(at line (\d+), column (\d+)\)")


def display_path(path: Path) -> str:
    """The path as a user would type it: relative to the working directory when possible."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def read_toml(path: Path) -> dict[str, Any]:
    """Parse one TOML file; malformed TOML or an unreadable file raises :class:`InputError`."""
    name = display_path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise InputError([Problem(name, "", "file not found")]) from None
    except OSError as exc:
        raise InputError([Problem(name, "", f"cannot read file: {exc.strerror}")]) from None
    try:
        return tomllib.loads(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise InputError([Problem(name, "", f"not UTF-8 text (byte {exc.start})")]) from None
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
    """Read a CSV file with a header row; return (columns, rows as dicts of strings)."""
    name = display_path(path)
    try:
        with path.open(newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            rows = list(reader)
            columns = list(reader.fieldnames or [])
    except FileNotFoundError:
        raise InputError([Problem(name, "", "file not found")]) from None
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise InputError([Problem(name, "", f"cannot read CSV: {exc}")]) from None
    if len(set(columns)) != len(columns):
        dup = sorted({c for c in columns if columns.count(c) > 1})
        raise InputError([Problem(name, "header", "duplicate column", dup)])
    for i, row in enumerate(rows, start=2):
        if None in row:
            raise InputError([Problem(name, f"line {i}", "more fields than header columns")])
        if any(v is None for v in row.values()):
            raise InputError([Problem(name, f"line {i}", "fewer fields than header columns")])
    return columns, rows
