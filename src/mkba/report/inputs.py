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

Building the document needs no pandas (issue 17: ``mkba run`` does not import it); the
assumptions rows are the records of the data frame the report builds of them (see
:func:`frame_records`).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

FILE = "inputs.json"
FORMAT = 1
LANGS = ("nl", "en")


def _json_value(v: Any) -> Any:
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


def frame_records(rows: list[dict[str, Any]], columns: tuple[str, ...]) -> list[dict[str, Any]]:
    """``pandas.DataFrame(rows, columns=columns).to_dict("records")`` with every non-finite
    float as ``None``, without pandas: a column that pandas makes float64 (numbers with a
    missing cell, or integers among floats; :func:`mkba.rowtable.column_kind`) holds floats
    (``2021`` becomes ``2021.0``) and ``None`` for a missing cell; every other value is kept
    as it is (pandas' missing text, NaN, becomes ``None`` too). tests/test_rowtable.py compares
    it with pandas."""
    from mkba.rowtable import column_kind

    floats = {c for c in columns if column_kind([r.get(c, math.nan) for r in rows]) == "float64"}

    def cell(row: dict[str, Any], c: str) -> Any:
        v = row.get(c, math.nan)
        if c in floats:
            return None if v is None else _json_value(float(v))
        return _json_value(v)

    return [{c: cell(r, c) for c in columns} for r in rows]


def title_in(summary: dict[str, Any], title_nl: str | None, lang: str) -> str:
    """A scenario's title in ``lang`` from its run summary: ``title_nl`` for Dutch when the
    scenario gives one."""
    if lang == "nl" and title_nl:
        return str(title_nl)
    return str(summary.get("title") or summary["scenario"])


def component_weights(params: Any) -> dict[str, dict[str, float]]:
    """component ``stream.comp`` -> {stakeholder: +1 gainer / -1 loser of a transfer}."""
    out: dict[str, dict[str, float]] = {}
    for sid, st in params.streams.items():
        for cid, comp in st.components.items():
            w = {comp.gainer: 1.0}
            if comp.loser is not None:
                w[comp.loser] = w.get(comp.loser, 0.0) - 1.0
            out[f"{sid}.{cid}"] = w
    return out


@dataclass(frozen=True)
class RunInputs:
    """The stored inputs of one run (the parsed ``inputs.json`` document)."""

    doc: dict[str, Any]

    @classmethod
    def from_spec(cls, spec: Any, manifest: dict[str, Any], summary: dict[str, Any]) -> RunInputs:
        """The document of a loaded :class:`mkba.load.Spec` (as ``mkba run`` stamps it)."""
        from mkba.report.assumptions import ASSUMPTION_COLUMNS, assumption_rows
        from mkba.report.labels import Labels

        params = spec.params
        streams = list(params.streams)
        components = [f"{s}.{c}" for s in streams for c in params.streams[s].components]
        names: dict[str, Any] = {}
        assumptions: dict[str, Any] = {}
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
            rows = assumption_rows(
                spec,
                lab,
                title=title_in(summary, spec.scenario.title_nl, lang),
                calibration_file=manifest.get("calibration_file"),
            )
            assumptions[lang] = frame_records(rows, ASSUMPTION_COLUMNS)
        doc = {
            "format": FORMAT,
            "scenario_hash": spec.digest,
            "scenario": spec.scenario.model_dump(mode="json"),
            "title_nl": spec.scenario.title_nl,
            "pm": {k: v.model_dump(mode="json") for k, v in spec.scenario.pm.items()},
            "stream_order": streams,
            "public": {k: bool(v.public) for k, v in params.model.stakeholders.items()},
            "component_weights": component_weights(params),
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
        import pandas as pd

        rows = self.doc.get("assumptions", {}).get(lang, [])
        return pd.DataFrame(rows, columns=list(columns))


def _depends_on(manifest: dict[str, Any], summary: dict[str, Any]) -> tuple[Any, ...]:
    """What :meth:`RunInputs.from_spec` reads of the manifest and the summary (the title and
    the calibration record's path; with the spec, all it depends on)."""
    return (summary.get("title"), summary.get("scenario"), manifest.get("calibration_file"))


class InputsAhead:
    """``inputs.json``'s text made on a thread of its own from a run's spec, before the run's
    summary and manifest exist (a default ``mkba run``: about 0.04 CPU-s of Python, done
    while the main thread waits for the statistics' threads instead of after them).

    ``title``, ``scenario`` and ``calibration_file`` are the values the summary and manifest
    are expected to hold; :func:`write_inputs` uses the text only when the actual ones are the
    same (:func:`_depends_on`), else (or when the thread failed) it makes the document itself,
    as before: the same bytes either way."""

    def __init__(self, spec: Any, title: Any, scenario: Any, calibration_file: Any) -> None:
        import threading

        self.key = (title, scenario, calibration_file)
        self.text: str | None = None
        summary = {"title": title, "scenario": scenario}
        manifest = {"calibration_file": calibration_file}

        def work() -> None:
            from mkba.output import to_json

            try:
                self.text = to_json(RunInputs.from_spec(spec, manifest, summary).doc)
            except Exception:  # made again by write_inputs, which then reports the error
                self.text = None

        self._thread = threading.Thread(target=work, name="mkba-inputs", daemon=True)
        self._thread.start()

    def result(self, manifest: dict[str, Any], summary: dict[str, Any]) -> str | None:
        """The text when it was made for these ``manifest`` and ``summary``, else None."""
        self._thread.join()
        return self.text if _depends_on(manifest, summary) == self.key else None


def write_inputs(
    folder: Path,
    spec: Any,
    manifest: dict[str, Any],
    summary: dict[str, Any],
    ahead: InputsAhead | None = None,
) -> list[str]:
    """Stamp ``inputs.json`` into a run directory being written; return the file name.
    ``ahead``: the text made beforehand (:class:`InputsAhead`), used when it fits."""
    from mkba.output import atomic_write_text, write_json

    text = ahead.result(manifest, summary) if ahead is not None else None
    if text is not None:
        atomic_write_text(folder / FILE, text)
    else:
        write_json(folder / FILE, RunInputs.from_spec(spec, manifest, summary).doc)
    return [FILE]
