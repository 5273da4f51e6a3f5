"""What a report needs of a run's inputs, stamped into the run directory as ``inputs.json``.

``mkba run`` writes it at run time (:func:`write_inputs`), so that ``mkba report`` on a run
directory copied to another machine, without the scenario or parameter files, gives the same
report: the scenario as run, the names of its streams, components, stakeholders, domains and
areas in Dutch and English, its PM items, which stakeholders are public, the gainers and losers
of each value component, and the assumptions table (every resolved parameter value with unit,
price year, sources or stated assumption, and origin) in both languages.

A run directory of an older version has no ``inputs.json``: the report then loads the scenario
(:func:`mkba.report.data.load_spec`) and builds the same document from it
(:meth:`RunInputs.from_spec`).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

FILE = "inputs.json"
FORMAT = 1
LANGS = ("nl", "en")


def _json_value(v: Any) -> Any:
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


@dataclass(frozen=True)
class RunInputs:
    """The stored inputs of one run (the parsed ``inputs.json`` document)."""

    doc: dict[str, Any]

    @classmethod
    def from_spec(cls, spec: Any, manifest: dict[str, Any], summary: dict[str, Any]) -> RunInputs:
        """The document of a loaded :class:`mkba.load.Spec` (as ``mkba run`` stamps it)."""
        from mkba.report import data as rd
        from mkba.report.labels import Labels

        params = spec.params
        streams = list(params.streams)
        components = [f"{s}.{c}" for s in streams for c in params.streams[s].components]
        names: dict[str, Any] = {}
        assumptions: dict[str, Any] = {}
        probe = rd.RunData(
            path=Path("."),
            manifest=manifest,
            summary=summary,
            breakdown=pd.DataFrame(),
            yearly=pd.DataFrame(),
            draws=pd.DataFrame(),
            spec=spec,
        )
        for lang in LANGS:
            lab = Labels(lang, params)
            names[lang] = {
                "stream": {s: lab.stream(s) for s in streams},
                "component": {c: lab.component(c) for c in components},
                "stakeholder": {k: lab.stakeholder(k) for k in params.model.stakeholders},
                "domain": {d: lab.domain(d) for d in params.model.domains},
                "area": {a: lab.area(a) for a in params.areas.ids},
                "intervention": {i: lab.intervention(i) for i in params.interventions},
            }
            table = rd.assumptions_from_spec(probe, lab)
            assumptions[lang] = [
                {k: _json_value(v) for k, v in r.items()} for r in table.to_dict("records")
            ]
        doc = {
            "format": FORMAT,
            "scenario_hash": spec.digest,
            "scenario": spec.scenario.model_dump(mode="json"),
            "title_nl": spec.scenario.title_nl,
            "pm": {k: v.model_dump(mode="json") for k, v in spec.scenario.pm.items()},
            "stream_order": streams,
            "public": {k: bool(v.public) for k, v in params.model.stakeholders.items()},
            "component_weights": rd.component_weights(params),
            "names": names,
            "assumptions": assumptions,
        }
        return cls(doc)

    @classmethod
    def read(cls, run_dir: Path) -> RunInputs | None:
        """The stored inputs of a run directory, or None for a run without them."""
        path = run_dir / FILE
        if not path.is_file():
            return None
        return cls(json.loads(path.read_text(encoding="utf-8")))

    def names(self, lang: str) -> dict[str, dict[str, str]]:
        return dict(self.doc["names"][lang])

    @property
    def title_nl(self) -> str | None:
        return self.doc.get("title_nl")

    @property
    def pm(self) -> dict[str, dict[str, Any]]:
        return dict(self.doc.get("pm", {}))

    @property
    def public(self) -> dict[str, bool]:
        return dict(self.doc.get("public", {}))

    @property
    def stream_order(self) -> list[str]:
        return list(self.doc.get("stream_order", []))

    @property
    def component_weights(self) -> dict[str, dict[str, float]]:
        return {k: dict(v) for k, v in self.doc.get("component_weights", {}).items()}

    def assumptions(self, lang: str, columns: tuple[str, ...]) -> pd.DataFrame:
        rows = self.doc.get("assumptions", {}).get(lang, [])
        return pd.DataFrame(rows, columns=list(columns))


def write_inputs(
    folder: Path, spec: Any, manifest: dict[str, Any], summary: dict[str, Any]
) -> list[str]:
    """Stamp ``inputs.json`` into a run directory being written; return the file name."""
    from mkba.output import write_json

    write_json(folder / FILE, RunInputs.from_spec(spec, manifest, summary).doc)
    return [FILE]
