"""Small tables of rows (a run's summary, breakdown and yearly quantiles), written as Parquet and
CSV without importing pandas (issue 17: pandas cost about a quarter of a second of every
``mkba run``).

A :class:`RowTable` is built from a list of row dicts, as ``pandas.DataFrame(rows)`` was, and
writes the very bytes that a data frame of those rows wrote through
:func:`mkba.output.write_table` before: the Arrow table of
``pyarrow.Table.from_pandas(frame, preserve_index=False)`` (the same column types, the same
nulls and the same ``pandas`` schema metadata, which tells pandas how to read the file back)
and the text of ``neutralise_formulas(frame).to_csv(index=False)``. tests/test_rowtable.py
compares both, byte for byte, with pandas on the tables of a run and on edge cases (NaN,
infinities, -0.0, huge and tiny floats, integers, booleans, text with commas, quotes and line
breaks, formula-like text, missing cells).

Only the column kinds those tables hold are written this way: text (with missing cells),
float64 (integers and missing cells among floats become float64 and NaN, as pandas infers),
int64 and bool. A table with any other column, and any pandas other than the major version
whose layout is mirrored here (:data:`PANDAS_LAYOUT`), is written through pandas as before
(:meth:`RowTable.needs_pandas`), so the files never differ from what pandas writes.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
from typing import TYPE_CHECKING, Any

from mkba.output import package_version

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

PANDAS_LAYOUT = "3"
"""Major version of pandas whose data frames' Arrow layout :meth:`RowTable.to_arrow` mirrors
(pandas 3 infers text as its ``str`` dtype, stored as Arrow ``large_string``)."""

_MISSING = object()

_INT64 = (-(2**63), 2**63 - 1)

# pandas metadata of a column per kind: (pandas_type, numpy_type), as pyarrow writes them for
# the dtype pandas infers (``str``, ``float64``, ``int64``, ``bool``)
_PANDAS_TYPES = {
    "str": ("object", "str"),
    "float64": ("float64", "float64"),
    "int64": ("int64", "int64"),
    "bool": ("bool", "bool"),
}


def column_kind(values: list[Any]) -> str | None:
    """The pandas dtype inferred for a column of ``values`` (``_MISSING`` for a row without
    the key), if it is one :class:`RowTable` writes itself; else ``None``."""
    present = [v for v in values if v is not _MISSING and v is not None]
    if not present:
        return None  # no value: pandas keeps an object (or float) column of nulls
    gaps = len(present) != len(values)
    if all(type(v) is str for v in present):
        return "str"
    if all(type(v) is bool for v in present):
        return None if gaps else "bool"  # booleans with gaps stay objects in pandas
    numbers = all(type(v) in (int, float) for v in present)
    if not numbers:
        return None
    ints = [v for v in present if type(v) is int]
    if any(not _INT64[0] <= v <= _INT64[1] for v in ints):
        return None
    if gaps or len(ints) != len(present):
        return "float64"
    return "int64"


def arrow_array(values: Any, *, nan_is_null: bool = False) -> pa.Array:
    """The Arrow array of a 1-D NumPy array of numbers or booleans, as ``pyarrow.array(values,
    from_pandas=nan_is_null)`` makes it, built from its buffers: ``pyarrow.array`` imports
    pandas on its first call (it checks whether the values are a pandas categorical), about a
    quarter of a second of a run that needs no pandas. ``nan_is_null``: NaN values are nulls
    (pandas' semantics, as ``Table.from_pandas`` writes a float column)."""
    import numpy as np
    import pyarrow as pa

    arr = np.ascontiguousarray(values)
    if arr.ndim != 1:
        raise ValueError(f"a column must be 1-D, not {arr.shape}")
    n = len(arr)
    validity = None
    if nan_is_null and arr.dtype.kind == "f":
        valid = arr == arr
        if not valid.all():
            validity = pa.py_buffer(np.packbits(valid, bitorder="little"))
    if arr.dtype == np.bool_:
        data = pa.py_buffer(np.packbits(arr, bitorder="little"))
        return pa.Array.from_buffers(pa.bool_(), n, [validity, data])
    if arr.dtype.kind not in "iuf" or arr.dtype.byteorder == ">":
        raise TypeError(f"not a column of numbers: {arr.dtype}")
    return pa.Array.from_buffers(pa.from_numpy_dtype(arr.dtype), n, [validity, pa.py_buffer(arr)])


def arrow_text(values: list[str | None]) -> pa.Array:
    """The Arrow ``large_string`` array of texts (``None`` a null), as ``pyarrow.array(values,
    type=pyarrow.large_string())`` makes it, built from its buffers (see :func:`arrow_array`)."""
    import numpy as np
    import pyarrow as pa

    encoded = [b"" if v is None else v.encode("utf-8") for v in values]
    offsets = np.zeros(len(values) + 1, dtype=np.int64)
    np.cumsum([len(b) for b in encoded], out=offsets[1:])
    valid = np.array([v is not None for v in values], dtype=bool)
    validity = None if valid.all() else pa.py_buffer(np.packbits(valid, bitorder="little"))
    out = pa.Array.from_buffers(
        pa.large_string(),
        len(values),
        [validity, pa.py_buffer(offsets), pa.py_buffer(b"".join(encoded))],
    )
    out.validate(full=True)
    return out


class RowTable:
    """A table of ``rows`` (dicts of column -> value; columns in order of first appearance, a
    missing key a missing cell), as ``pandas.DataFrame(rows)`` makes it."""

    def __init__(self, rows: list[dict[str, Any]]) -> None:
        self.rows = rows
        names: dict[str, None] = {}
        for row in rows:
            for key in row:
                names.setdefault(key, None)
        self.columns: list[str] = list(names)
        kinds: dict[str, str] = {}
        supported = bool(rows) and all(type(c) is str for c in self.columns)
        for name in self.columns if supported else ():
            kind = column_kind([row.get(name, _MISSING) for row in rows])
            if kind is None:
                supported = False
                break
            kinds[name] = kind
        self.kinds: dict[str, str] | None = kinds if supported else None

    def __len__(self) -> int:
        return len(self.rows)

    def to_pandas(self) -> pd.DataFrame:
        """The data frame of the rows (``pandas.DataFrame(rows)``)."""
        import pandas as pd

        return pd.DataFrame(self.rows)

    def needs_pandas(self) -> bool:
        """Whether the table must be written through pandas: a column of another kind, no
        rows, or a pandas whose layout is not the one mirrored here."""
        if self.kinds is None:
            return True
        try:
            return package_version("pandas").split(".")[0] != PANDAS_LAYOUT
        except Exception:  # pandas missing or without a version: let pandas decide
            return True

    def _values(self, name: str) -> list[Any]:
        return [row.get(name) for row in self.rows]

    def _floats(self, name: str) -> Any:
        import numpy as np

        return np.array(
            [math.nan if v is None else v for v in self._values(name)], dtype=np.float64
        )

    def to_arrow(self) -> pa.Table:
        """The Arrow table of ``pyarrow.Table.from_pandas(DataFrame(rows),
        preserve_index=False)``, with its ``pandas`` schema metadata. Only when not
        :meth:`needs_pandas`."""
        import numpy as np
        import pyarrow as pa

        assert self.kinds is not None and not self.needs_pandas()
        arrays = []
        meta = []
        for name in self.columns:
            kind = self.kinds[name]
            if kind == "str":
                arr = arrow_text(self._values(name))
            elif kind == "float64":
                arr = arrow_array(self._floats(name), nan_is_null=True)  # as from_pandas
            else:
                arr = arrow_array(np.array(self._values(name), dtype=np.dtype(kind)))
            arrays.append(arr)
            pandas_type, numpy_type = _PANDAS_TYPES[kind]
            meta.append(
                {
                    "name": name,
                    "field_name": name,
                    "pandas_type": pandas_type,
                    "numpy_type": numpy_type,
                    "metadata": None,
                }
            )
        pandas_meta = {
            "index_columns": [],
            "column_indexes": [],
            "columns": meta,
            "attributes": {},
            "creator": {"library": "pyarrow", "version": pa.__version__},
            "pandas_version": package_version("pandas"),
        }
        return pa.Table.from_arrays(
            arrays,
            names=self.columns,
            metadata={b"pandas": json.dumps(pandas_meta).encode("utf8")},
        )

    def to_csv(self, neutralise: Any) -> str:
        """The text of ``neutralise_formulas(DataFrame(rows)).to_csv(index=False)``:
        ``neutralise`` (:func:`mkba.output.neutralise_text`) applied to every text cell and
        column name; floats as NumPy prints them (``astype(str)``, as pandas writes them),
        missing cells empty. Only when not :meth:`needs_pandas`."""
        assert self.kinds is not None
        cells: list[list[Any]] = []
        for name in self.columns:
            kind = self.kinds[name]
            if kind == "str":
                cells.append(["" if v is None else neutralise(v) for v in self._values(name)])
            elif kind == "float64":
                floats = self._floats(name)
                text = floats.astype(str).astype(object)
                text[floats != floats] = ""  # NaN: pandas' empty na_rep
                cells.append(list(text))
            else:
                cells.append(self._values(name))
        buf = io.StringIO()
        writer = csv.writer(
            buf,
            lineterminator=os.linesep,
            delimiter=",",
            quoting=csv.QUOTE_MINIMAL,
            doublequote=True,
            escapechar=None,
            quotechar='"',
        )
        writer.writerow([neutralise(c) for c in self.columns])
        writer.writerows(zip(*cells, strict=True))
        return buf.getvalue()
