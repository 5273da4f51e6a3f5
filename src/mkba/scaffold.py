"""``mkba init DIR``: a programme folder that builds on the parameter library.

The folder validates and runs as written. Its files carry comments that teach the format;
every number in it that is not from the library is labelled an ``assumption`` for the user
to replace with their own sources.
"""

from __future__ import annotations

import os
from pathlib import Path

from mkba.errors import InputError, Problem
from mkba.library import MANIFEST
from mkba.tomlio import display_path

MANIFEST_TEXT = """\
# A programme folder: it builds on a parameter library without copying it.
# Files here add to the library or overlay it (see README, "Your own MKBA"):
#   - a single file (costs.toml, model.toml, programme.toml, cpi.toml) is merged onto the
#     library's: tables merge key by key; a quantity (a table with 'unit'), payer 'shares' or
#     response 'weights' replace the library's table as a whole;
#   - streams/<id>.toml adds a stream, or overlays the library's stream of the same name;
#   - areas.csv + areas.toml replace the library's areas by your own.
# `mkba validate {scenario}` shows every problem; `mkba run {scenario}` runs it.

title = "{title}"

# The library this folder extends (a path relative to this file).
extends = "{library}"

# Which entries of the library and of this folder the programme uses, per folder. Without a
# [use] table every entry is used (all seven library streams, which need the library's areas
# columns). List ids from the library's streams/ folder to add them.
[use]
streams = ["debt_help", "benefit_savings"]
"""

AREAS_CSV = """\
area_id,name,municipality,population,low_financial_welfare_share
noord,Noord,Voorbeeldstad,12000,0.12
zuid,Zuid,Voorbeeldstad,8000,0.15
"""

AREAS_TOML = """\
# Sidecar of areas.csv: every column needs a unit and a source (or an assumption).
# Area ids are lower-kebab-case. Numeric columns can drive stream volumes (volume.base,
# volume.multiplier) and budget weights (budget.area_weights in a scenario).

id_column = "area_id"

[columns.name]
unit = "text"
description = "Area name."
assumption = "Example areas of the mkba init scaffold; replace with your own."

[columns.municipality]
unit = "text"
description = "Municipality."
assumption = "Example areas of the mkba init scaffold; replace with your own."

[columns.population]
unit = "person"
description = "Inhabitants on 1 January."
year = 2025
assumption = "Example figures of the mkba init scaffold (12,000 and 8,000 residents). Replace with CBS Kerncijfers wijken en buurten for your areas."

[columns.low_financial_welfare_share]
unit = "fraction"
description = "Share of residents with low financial welfare (used by the library stream benefit_savings)."
year = 2024
assumption = "Example figures of the mkba init scaffold, around the focus-area mean of 12.6 % (CBS 2026). Replace with the CBS figure for your areas."
"""

COSTS_TOML = """\
# Overlays the library's costs.toml: only what differs is written here.
# Payer shares replace the library's shares for that domain as a whole (they must sum to 1).
# They can also be set per scenario: [overrides."costs.social.payers"] in a scenario file.

[domains.social.payers]
shares = { municipalities = 1.0 }
assumption = "A municipal programme: the municipality pays all of its social spending (scaffold example; change when others co-finance)."

[domains.governance.payers]
shares = { municipalities = 1.0 }
assumption = "A municipal programme: the programme team is municipal staff (scaffold example)."
"""

STREAM_TOML = """\
# A benefit stream of this programme (not in the library). One file per stream; its id is the
# file name. Every number has a unit and a source, or an 'assumption' with the reasoning.
# The numbers below are placeholders of the scaffold: replace them with your own evidence.
#
# Volume in year t: V0[a] * (1 + trend)^(t - volume.year), with
#   V0[a] = base[a] * multiplier[a] * rate * factor   (base, multiplier: areas.csv columns).
# Effect: the full programme changes V by 'effect' (a fraction), after 'lag' years, ramped up
# over 'ramp' years, fading after the programme with 'half_life', net of deadweight and
# displacement. Each component values one unit of the change per year.

label = "Debt counselling"
label_nl = "Schuldhulpverlening"
description = "Households with problematic debts helped to a stable situation."

[volume]
base = "population"
multiplier = "low_financial_welfare_share"
unit = "household"
year = 2025

[volume.rate]
unit = "household/resident"
value = 0.25
assumption = "Households with problematic debts per resident with low financial welfare: scaffold placeholder, replace with your municipality's debt-help figures."

[trend]
unit = "1/year"
value = 0.0
assumption = "No trend without the programme (nulalternatief): scaffold placeholder."

[effect]
unit = "fraction"
# An uncertain value is a distribution: triangular, pert, uniform, normal, truncnormal,
# lognormal, beta or choice.
dist = { type = "pert", min = 0.05, mode = 0.10, max = 0.20 }
assumption = "Share of the problem households the programme helps to a stable situation: scaffold placeholder."

[deadweight]
unit = "fraction"
value = 0.2
assumption = "A fifth would have been helped without the programme: scaffold placeholder."

[displacement]
unit = "fraction"
value = 0.0
assumption = "Helping one household does not crowd out another: scaffold placeholder."

[lag]
unit = "year"
value = 1
assumption = "A debt-help trajectory takes about a year: scaffold placeholder."

[ramp]
unit = "year"
value = 1
assumption = "Full strength one year after the first effects: scaffold placeholder."

[half_life]
unit = "year"
dist = { type = "triangular", min = 2, mode = 5, max = 10 }
assumption = "Some households fall back into debt after the programme: scaffold placeholder."

# Which budget domains drive this stream (weights sum to 1).
[response]
weights = { social = 1.0 }
assumption = "Debt help is paid from the social budget."

# A value component: 'resource' (a real gain to society) or 'transfer' (money moving from a
# 'loser' to a 'gainer'; nets to zero in the welfare perspective).
[components.avoided_costs]
label = "Costs of problematic debts avoided"
label_nl = "Vermeden kosten van problematische schulden"
nature = "resource"
gainer = "municipalities"
[components.avoided_costs.unit_value]
unit = "EUR/household/year"
price_year = 2025
per = "year"
dist = { type = "triangular", min = 1000, mode = 2000, max = 3000 }
assumption = "Public costs avoided per stabilised household per year (collection, evictions, care): scaffold placeholder, replace with a sourced figure."
[components.avoided_costs.growth]
unit = "1/year"
value = 0.0
assumption = "Constant in real terms."
"""

SCENARIO_TOML = """\
# A scenario: what is compared. `mkba run {rel}` runs it; `--variant half_budget` a variant.
title = "{title}"
title_nl = "{title_nl}"
# The parameter folder: this programme folder (which extends the library).
parameters = ".."
areas = ["noord", "zuid"]
base_year = 2025     # present values at this year
price_year = 2025    # money in prices of this year (CPI-indexed; the CBS table ends in 2025)
start_year = 2026
horizon = 2040
discount_rate = 0.0225   # Dutch standard real rate since 2021
perspective = "welfare"  # welfare (CPB/PBL MKBA) or fiscal (public budgets)
draws = 2000
seed = 1

[budget]
price_year = 2025
total = 2_000_000    # EUR over the whole programme, all payers
area_weights = "population"
domains = {{ social = 0.8, governance = 0.2 }}
profile = [0.25, 0.25, 0.25, 0.25]   # four years from start_year
assumption = "EUR 2 m over four years, 80 % debt help, 20 % programme team: scaffold example."

# Any parameter can be overridden here, by its path (file stem and keys), with its own
# provenance. The library's benefit_savings effect is that of a large national programme;
# a small one moves fewer people off bijstand.
[overrides."streams.benefit_savings.effect"]
dist = {{ type = "pert", min = 0.0, mode = 0.01, max = 0.03 }}
assumption = "A small debt-help programme takes about 1 % (0-3 %) of the areas' bijstand recipients off benefits: scaffold placeholder."

# Named variants change some keys of the scenario.
[variants.half_budget]
description = "Half the budget: with an elasticity below 1, more than half of the effect remains."
budget.scale = 0.5
"""

README_TEXT = """\
# {title}

An MKBA (social cost-benefit analysis) built with mkba on its parameter library
(`{library}`), created by `mkba init`.

- `mkba.toml`: the library this folder extends, and the streams it uses.
- `areas.csv`, `areas.toml`: the areas and the sources of their figures.
- `costs.toml`: payer shares that differ from the library.
- `streams/debt_help.toml`: a stream of this programme.
- `scenarios/base.toml`: budget, years and a variant.

    mkba validate {scenario}
    mkba run {scenario}
    mkba run {scenario} --variant half_budget
    mkba report runs/<run>/ --lang nl

Every figure marked "scaffold placeholder" is an example: replace it with your own source.
"""


def init_programme(
    folder: Path, library: Path, *, title: str | None = None, force: bool = False
) -> list[Path]:
    """Write a programme folder that extends ``library``; return the files written.

    Raises :class:`InputError` when the library is not a parameter folder or the target
    folder exists and is not empty (unless ``force``).
    """
    folder = Path(folder)
    library = Path(library)
    if not (library / "model.toml").is_file():
        raise InputError(
            [Problem(display_path(library), "", "not a parameter library (no model.toml)")]
        )
    if folder.exists() and any(folder.iterdir()) and not force:
        raise InputError(
            [Problem(display_path(folder), "", "folder exists and is not empty (use --force)")]
        )
    name = folder.resolve().name
    title = title or name
    rel_lib = Path(os.path.relpath(library.resolve(), folder.resolve())).as_posix()
    scenario = (folder / "scenarios" / "base.toml").as_posix()
    files = {
        MANIFEST: MANIFEST_TEXT.format(title=title, library=rel_lib, scenario=scenario),
        "areas.csv": AREAS_CSV,
        "areas.toml": AREAS_TOML,
        "costs.toml": COSTS_TOML,
        "streams/debt_help.toml": STREAM_TOML,
        "scenarios/base.toml": SCENARIO_TOML.format(
            rel=scenario,
            title=f"{title}: debt help in two areas",
            title_nl=f"{title}: schuldhulp in twee wijken",
        ),
        "README.md": README_TEXT.format(title=title, library=rel_lib, scenario=scenario),
    }
    written = []
    for rel, text in files.items():
        path = folder / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written
