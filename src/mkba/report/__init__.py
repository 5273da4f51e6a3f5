"""Outputs for readers: charts, an Excel workbook and a business-case report of a run.

=====================  ===============================================================
module                 job
=====================  ===============================================================
``format``             Dutch and English numbers (``€ 3,8 mld``), never the machine's locale
``labels``             fixed words in both languages; names from the parameter files
``data``               read a run directory; the data behind every chart and table
``charts``             matplotlib charts, one shipped style, deterministic PNG and SVG
``workbook``           the Excel workbook (XlsxWriter) for finance departments
``document``           what the report says, as plain blocks
``html``, ``markdown`` how the report looks
``build``              :func:`make_charts` and :func:`make_report` (``mkba chart``/``report``)
=====================  ===============================================================
"""

from typing import Any

__all__ = ["make_charts", "make_report"]


def __getattr__(name: str) -> Any:
    # lazy: reading a run's stored inputs (mkba.report.inputs) must not import matplotlib
    if name in __all__:
        from mkba.report import build

        return getattr(build, name)
    raise AttributeError(name)
