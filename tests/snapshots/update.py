"""Regenerate the regression snapshots of every shipped scenario and variant.

Run from the repository root after a change that is meant to change results
(``python tests/snapshots/update.py``), and say in CHANGELOG.md what changed and why.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).parents[2]
HERE = Path(__file__).parent
DRAWS = 2000


def cases() -> list[tuple[Path, str | None]]:
    from mkba.load import load_scenario

    out: list[tuple[Path, str | None]] = []
    for path in sorted((ROOT / "scenarios").glob("*.toml")):
        spec = load_scenario(path)
        out.append((path, None))
        out += [(path, v) for v in spec.base_scenario.variants]
    return out


def snapshot(path: Path, variant: str | None) -> dict:  # type: ignore[type-arg]
    from mkba import api

    doc = api.run_scenario(path, variant=variant, draws=DRAWS, write=False).summary
    keep = {k: doc[k] for k in ("costs_pv", "benefits_pv", "npv", "bcr", "prob_npv_positive")}
    keep["by_stream_p50"] = {s: v["p50"] for s, v in doc["by_stream"].items()}
    keep["by_stakeholder_p50"] = {s: v["p50"] for s, v in doc["by_stakeholder"].items()}
    keep["perspectives_npv_p50"] = {p: v["npv"]["p50"] for p, v in doc["perspectives"].items()}
    if "by_intervention" in doc:  # bottom-up programmes only
        keep["by_intervention_npv_p50"] = {
            k: v["npv"]["p50"] for k, v in doc["by_intervention"].items()
        }
    return {
        "scenario": path.name,
        "variant": variant,
        "draws": DRAWS,
        "seed": doc["seed"],
        "summary": keep,
    }


def name(path: Path, variant: str | None) -> str:
    return path.stem + (f"--{variant}" if variant else "") + ".json"


def main() -> None:
    sys.path.insert(0, str(ROOT / "src"))
    for path, variant in cases():
        (HERE / name(path, variant)).write_text(
            json.dumps(snapshot(path, variant), indent=2, sort_keys=True) + "\n"
        )
        print("wrote", name(path, variant))


if __name__ == "__main__":
    main()
