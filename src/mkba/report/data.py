"""The data behind every chart, table and report section, read from a run directory: one
import for the report's modules (``from mkba.report import data as rd``), by subject in

- :mod:`mkba.report.rundir`: a run directory's files, the optional tables of sensitivity and
  batch runs (file names, column aliases, stamps) and the scenario;
- :mod:`mkba.report.pm`: effects named but not monetised (PM items);
- :mod:`mkba.report.chartdata`: the numbers behind each chart and table;
- :mod:`mkba.report.assumptions`: the assumptions table (values, units, provenance).

Compute only: the functions return data frames (and a few scalars in :class:`ChartData`);
:mod:`mkba.report.charts` draws them and the tests check them.
"""

from __future__ import annotations

from mkba.report.assumptions import (
    ASSUMPTION_COLUMNS,
    assumptions,
    assumptions_from_spec,
    describe_value,
    source_text,
)
from mkba.report.chartdata import (
    FAN_COLUMNS,
    ChartData,
    areas,
    cashflow,
    component_weights,
    discount_sweep,
    fan,
    money_scale_values,
    npv_distribution,
    perspectives_table,
    rank_correlations,
    stakeholder_table,
    stakeholders,
    summary_table,
    switching_table,
    tornado,
    variant_label,
    variants,
    waterfall,
)
from mkba.report.pm import PmItem, pm_items
from mkba.report.rundir import (
    ALIASES,
    DISCOUNT_COLUMNS,
    EXTRA_FILES,
    REQUIRED_FILES,
    SWITCHING_COLUMNS,
    TABLE_FILES,
    TORNADO_COLUMNS,
    VARIANT_COLUMNS,
    Folders,
    RunData,
    check_columns,
    check_stamps,
    find_extras,
    load_run,
    load_spec,
    normalize,
    scenario_title,
)

__all__ = [
    "ALIASES",
    "ASSUMPTION_COLUMNS",
    "DISCOUNT_COLUMNS",
    "EXTRA_FILES",
    "FAN_COLUMNS",
    "REQUIRED_FILES",
    "SWITCHING_COLUMNS",
    "TABLE_FILES",
    "TORNADO_COLUMNS",
    "VARIANT_COLUMNS",
    "ChartData",
    "Folders",
    "PmItem",
    "RunData",
    "areas",
    "assumptions",
    "assumptions_from_spec",
    "cashflow",
    "check_columns",
    "check_stamps",
    "component_weights",
    "describe_value",
    "discount_sweep",
    "fan",
    "find_extras",
    "load_run",
    "load_spec",
    "money_scale_values",
    "normalize",
    "npv_distribution",
    "perspectives_table",
    "pm_items",
    "rank_correlations",
    "scenario_title",
    "source_text",
    "stakeholder_table",
    "stakeholders",
    "summary_table",
    "switching_table",
    "tornado",
    "variant_label",
    "variants",
    "waterfall",
]
