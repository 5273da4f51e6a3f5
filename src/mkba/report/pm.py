"""Effects named but not monetised (pro memorie, PM) of a run's scenario."""

from __future__ import annotations

from dataclasses import dataclass

from mkba.report.rundir import RunData


@dataclass(frozen=True)
class PmItem:
    """An effect named but not monetised (pro memorie)."""

    id: str
    label: str
    label_nl: str
    why: str
    why_nl: str
    related: str | None = None
    sign: str = "+"

    @property
    def text(self) -> str:
        """The summary-table entry: ``+PM``, ``\u2212PM`` or ``\u00b1PM``."""
        return {"+": "+PM", "-": "\u2212PM", "+/-": "\u00b1PM"}[self.sign]

    def name(self, lang: str) -> str:
        return self.label_nl if lang == "nl" else self.label

    def reason(self, lang: str) -> str:
        return self.why_nl if lang == "nl" else self.why


def pm_items(run: RunData | None) -> list[PmItem]:
    """The PM items of the run's scenario (``[pm.<id>]`` tables): they belong to the
    programme, not to the package. None when the scenario cannot be found."""
    if run is None or run.inputs is None:
        return []
    return [PmItem(id=k, **v) for k, v in run.inputs.pm.items()]
