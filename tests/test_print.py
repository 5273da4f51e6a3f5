"""Printing: the HTML report on A4 (headless Chromium) and the workbook (LibreOffice).

The 2021 reference printed to 33 A4 pages with a clipped stakeholder table and its workbook to
49 pages before the print settings; the bounds below hold the fixes in place. Each test is
skipped, with the reason, when its printer is not installed (scripts/setup-chromium.sh
installs Chromium; LibreOffice is not installed by the setup scripts: it is large).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from mkba import api
from mkba.report.build import make_report

ROOT = Path(__file__).parents[1]
REFERENCE = ROOT / "scenarios" / "reference-2021.toml"
A4 = (595.0, 842.0)  # points


def _which(*names: str) -> str | None:
    for n in names:
        if shutil.which(n):
            return shutil.which(n)
    return None


CHROMIUM = _which("chromium", "chromium-browser", "google-chrome")
SOFFICE = _which("soffice", "libreoffice")
PDFTOPPM = _which("pdftoppm")


@pytest.fixture(scope="module")
def reported(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("print") / "run"
    api.run_scenario(REFERENCE, draws=400, out=out)
    make_report(out, formats=("html", "xlsx"), lang="nl", charts=False)
    return out


def pages(pdf: Path) -> list[tuple[float, float]]:
    """(width, height) in points of every page of a PDF (from its page objects)."""
    data = pdf.read_bytes()
    boxes = []
    for m in re.finditer(rb"/Type\s*/Page[^s]", data):
        window = data[max(0, m.start() - 600) : m.end() + 600]
        box = re.search(rb"/MediaBox\s*\[\s*([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s*\]", window)
        if box:
            x0, y0, x1, y1 = (float(v) for v in box.groups())
            boxes.append((x1 - x0, y1 - y0))
        else:
            boxes.append((float("nan"), float("nan")))
    return boxes


@pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed (scripts/setup-chromium.sh)")
def test_report_prints_on_a4_without_clipped_tables(reported: Path, tmp_path: Path) -> None:
    pdf = tmp_path / "report.pdf"
    r = subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--no-pdf-header-footer",
            f"--user-data-dir={tmp_path / 'profile'}",
            f"--print-to-pdf={pdf}",
            (reported / "report.html").resolve().as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert pdf.is_file(), r.stderr[-2000:]
    sizes = pages(pdf)
    # A4 portrait, and far fewer pages than the 33 before (19 at the time of writing: about 8
    # of report and 10 of compact assumptions appendix; 24 on main before issue 11's Dutch library
    # texts, 25 with them: Dutch prose is longer than the English it replaces)
    assert 8 <= len(sizes) <= 26, len(sizes)
    for w, h in sizes:
        assert abs(w - A4[0]) < 2 and abs(h - A4[1]) < 2
    if PDFTOPPM is None:
        pytest.skip("pdftoppm (poppler-utils) not installed: page images not checked")
    subprocess.run([PDFTOPPM, "-r", "50", "-png", str(pdf), str(tmp_path / "p")], check=True)
    from PIL import Image

    images = sorted(tmp_path.glob("p-*.png"))
    assert len(images) == len(sizes)
    for img_path in images:
        img = np.asarray(Image.open(img_path).convert("L"))
        # the page margin is 12 mm; a table wider than the text column would run into it (it
        # cannot be clipped: tables print without a scroll box). The outer 9 mm stay blank.
        band = int(img.shape[1] * 9 / 210)
        assert img[:, -band:].min() > 200, f"ink in the right margin of {img_path.name}"
        assert img[:, :band].min() > 200, f"ink in the left margin of {img_path.name}"


@pytest.mark.skipif(
    SOFFICE is None, reason="LibreOffice not installed (not in the setup scripts: it is large)"
)
def test_workbook_prints_compactly(reported: Path, tmp_path: Path) -> None:
    shutil.copy(reported / "workbook.xlsx", tmp_path / "workbook.xlsx")
    subprocess.run(
        [
            SOFFICE,
            "--headless",
            f"-env:UserInstallation={(tmp_path / 'lo').as_uri()}",
            "--convert-to",
            "pdf",
            "--outdir",
            str(tmp_path),
            str(tmp_path / "workbook.xlsx"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    pdf = tmp_path / "workbook.pdf"
    assert pdf.is_file()
    sizes = pages(pdf)
    # one page per sheet or a few for the long ones (8 at the time of writing; 49 before)
    assert 6 <= len(sizes) <= 14, len(sizes)
    # the summary sheet (first) prints landscape, its table and chart on one page
    w, h = sizes[0]
    assert w > h
