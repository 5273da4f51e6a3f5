"""The report as one self-contained HTML file: charts inline as SVG, styles inline, no
scripts, no fonts or anything else fetched from a network. Readable on screen and printable
(A4, figures and table rows are not split over pages)."""

from __future__ import annotations

import re
from html import escape

from mkba.report import document as doc
from mkba.report.format import check_lang

CSS = """
:root { --ink:#1d2430; --muted:#5b6472; --line:#d9dde3; --soft:#f4f6f8; --blue:#0072B2;
  --red:#D55E00; }
* { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; }
body { margin: 0; color: var(--ink); background: #fff;
  font: 16px/1.55 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial,
  "Noto Sans", "DejaVu Sans", sans-serif; }
main { max-width: 1000px; margin: 0 auto; padding: 32px 28px 48px; }
header.top { border-bottom: 3px solid var(--ink); padding-bottom: 14px; margin-bottom: 8px; }
h1 { font-size: 30px; line-height: 1.2; margin: 0 0 6px; letter-spacing: -0.01em; }
.subtitle { color: var(--muted); font-size: 14px; margin: 0; }
nav.toc { font-size: 14px; margin: 10px 0 6px; color: var(--muted); display: flex;
  flex-wrap: wrap; gap: 4px 16px; }
nav.toc a { color: var(--blue); text-decoration: none; white-space: nowrap; }
h2 { font-size: 23px; margin: 42px 0 12px; padding-top: 6px; border-top: 1px solid var(--line); }
h3 { font-size: 18px; margin: 26px 0 8px; }
p { margin: 10px 0; }
p.lead { font-size: 18px; line-height: 1.5; }
p.note { background: var(--soft); border-left: 4px solid #9aa5b1; padding: 10px 14px;
  font-size: 14px; color: #333b47; }
p.warning { background: #fff4e5; border-left: 4px solid var(--red); padding: 10px 14px;
  font-size: 14px; }
a { color: var(--blue); }
ul { padding-left: 22px; }
li { margin: 6px 0; }
.kf { display: grid; grid-template-columns: repeat(3, 1fr); gap: 12px; margin: 16px 0 18px; }
.kf > div { border: 1px solid var(--line); border-left: 5px solid var(--blue); border-radius: 4px;
  padding: 10px 14px; background: #fff; }
.kf .label { font-size: 13px; color: var(--muted); }
.kf .value { font-size: 27px; font-weight: 700; line-height: 1.25;
  font-variant-numeric: tabular-nums; }
.kf .sub { font-size: 12.5px; color: var(--muted); }
figure { margin: 22px 0 26px; padding: 0; }
figure svg { display: block; width: 100%; height: auto; max-width: 100%; }
caption { caption-side: bottom; text-align: left; font-size: 13px; color: var(--muted);
  padding-top: 6px; font-style: italic; }
figcaption { font-size: 13.5px; color: var(--muted); margin-top: 6px; font-style: italic; }
table { border-collapse: collapse; width: 100%; margin: 12px 0 18px; font-size: 14.5px;
  font-variant-numeric: tabular-nums; }
th, td { border-bottom: 1px solid var(--line); padding: 6px 8px; vertical-align: top;
  text-align: left; }
th { border-bottom: 2px solid var(--ink); font-weight: 600; }
td.r, th.r { text-align: right; }
td.r { white-space: nowrap; }
.tablewrap { overflow-x: auto; }
tr.strong td { font-weight: 700; }
tbody tr:nth-child(even) td { background: #fafbfc; }
table.small { font-size: 12.5px; }
table.small td { padding: 4px 6px; }
table.assumptions { table-layout: fixed; }
table.assumptions th:nth-child(1) { width: 25%; }
table.assumptions th:nth-child(2) { width: 17%; }
table.assumptions th:nth-child(3) { width: 12%; }
table.assumptions th:nth-child(4) { width: 8%; }
table.assumptions td { overflow-wrap: anywhere; }
small, .small { color: var(--muted); font-size: 11.5px; }
code, pre { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, "DejaVu Sans Mono",
  monospace; font-size: 13px; }
code { background: var(--soft); padding: 1px 4px; border-radius: 3px; word-break: break-all; }
pre code { background: none; padding: 0; color: inherit; word-break: normal; }
pre { background: #1d2430; color: #f3f5f7; padding: 12px 14px; border-radius: 4px;
  overflow-x: auto; white-space: pre-wrap; word-break: break-all; }
footer { margin-top: 40px; padding-top: 10px; border-top: 1px solid var(--line);
  color: var(--muted); font-size: 12.5px; }
@media (max-width: 720px) { .kf { grid-template-columns: 1fr 1fr; } main { padding: 18px; } }
@media print {
  @page { size: A4; margin: 14mm 12mm; }
  body { font-size: 10pt; }
  main { max-width: none; padding: 0; }
  h1 { font-size: 20pt; }
  h2 { font-size: 15pt; margin: 18pt 0 6pt; }
  h3 { font-size: 12pt; margin: 12pt 0 4pt; }
  p.lead { font-size: 11pt; }
  .kf .value { font-size: 16pt; }
  /* tables print whole: no scrolling box; a smaller font keeps amounts on one line */
  .tablewrap { overflow: visible; }
  table { font-size: 8.5pt; margin: 6pt 0 10pt; }
  th, td { padding: 2.5pt 4pt; }
  /* a chart is at most half a page high; it scales down inside its box */
  figure { margin: 8pt 0 10pt; }
  figure svg { max-height: 118mm; }
  /* the long assumptions table: a compact appendix on its own pages */
  h2#assumptions { break-before: page; page-break-before: always; }
  table.assumptions { font-size: 6.8pt; line-height: 1.3; }
  table.assumptions td, table.assumptions th { padding: 1.5pt 3pt; }
  table.assumptions small { font-size: 6pt; }
  thead { display: table-header-group; }
  nav.toc { display: none; }
  h2 { break-after: avoid; page-break-after: avoid; }
  h3 { break-after: avoid; page-break-after: avoid; }
  figure, .kf, tr, pre, p.note { break-inside: avoid; page-break-inside: avoid; }
  a { color: inherit; text-decoration: none; }
  tbody tr:nth-child(even) td { background: none; }
}
"""

_ID = re.compile(r'(\bid="|href="#|url\(#)([^")]+)')


def inline_svg(svg: bytes | str, prefix: str, label: str) -> str:
    """A matplotlib SVG ready to sit inside HTML: no XML prolog or doctype, ids made unique
    with ``prefix`` (several charts share glyph and clip-path ids), an accessible label."""
    text = svg.decode("utf-8") if isinstance(svg, bytes) else svg
    start = text.find("<svg")
    text = text[start:] if start >= 0 else text
    text = _ID.sub(lambda m: f"{m.group(1)}{prefix}{m.group(2)}", text)
    return text.replace(
        "<svg ", f'<svg role="img" aria-label="{escape(label, quote=True)}" ', 1
    ).strip()


def _inline(part: doc.Inline) -> str:
    if isinstance(part, doc.Link):
        url = part.url if part.url.startswith(("http://", "https://")) else "#"
        return f'<a href="{escape(url, quote=True)}" rel="noopener">{escape(part.text)}</a>'
    if isinstance(part, doc.Strong):
        return f"<strong>{escape(part.text)}</strong>"
    if isinstance(part, doc.Code):
        return f"<code>{escape(part.text)}</code>"
    if isinstance(part, doc.Small):
        return f"<small>{escape(part.text)}</small>"
    return _text(str(part))


def _text(text: str) -> str:
    """Escaped text; `backticks` become code."""
    out = []
    for i, piece in enumerate(text.split("`")):
        out.append(f"<code>{escape(piece)}</code>" if i % 2 else escape(piece))
    return "".join(out)


def _cell(cell: doc.Cell) -> str:
    if isinstance(cell, list):
        return "".join(_inline(p) for p in cell)
    return _inline(cell)


def _table(t: doc.Table) -> str:
    align = t.align or ""

    def cls(j: int) -> str:
        return ' class="r"' if j < len(align) and align[j] == "r" else ""

    head = ""
    if any(h for h in t.header):
        head = (
            "<thead><tr>"
            + "".join(f"<th{cls(j)}>{escape(h)}</th>" for j, h in enumerate(t.header))
            + "</tr></thead>"
        )
    body = []
    for i, row in enumerate(t.rows):
        rc = ' class="strong"' if i in t.strong_rows else ""
        body.append(
            f"<tr{rc}>"
            + "".join(f"<td{cls(j)}>{_cell(c)}</td>" for j, c in enumerate(row))
            + "</tr>"
        )
    caption = f"<caption>{escape(t.caption)}</caption>" if t.caption else ""
    kind = f' class="{t.kind}"' if t.kind else ""
    table = f"<table{kind}>{caption}{head}<tbody>{''.join(body)}</tbody></table>"
    return f'<div class="tablewrap">{table}</div>'


def render_html(document: doc.Document, svgs: dict[str, bytes]) -> str:
    """The HTML text of a document; ``svgs`` maps a chart kind to its SVG bytes."""
    lang = check_lang(document.lang)
    out: list[str] = []
    for b in document.blocks:
        if isinstance(b, doc.Heading):
            anchor = f' id="{escape(b.anchor, quote=True)}"' if b.anchor else ""
            out.append(f"<h{b.level}{anchor}>{escape(b.text)}</h{b.level}>")
        elif isinstance(b, doc.Para):
            cls = f' class="{b.kind}"' if b.kind else ""
            out.append(f"<p{cls}>{''.join(_inline(p) for p in b.parts)}</p>")
        elif isinstance(b, doc.Bullets):
            items = "".join(f"<li>{''.join(_inline(p) for p in it)}</li>" for it in b.items)
            out.append(f"<ul>{items}</ul>")
        elif isinstance(b, doc.Table):
            out.append(_table(b))
        elif isinstance(b, doc.KeyFigures):
            cards = "".join(
                f'<div><div class="label">{escape(lbl)}</div><div class="value">{escape(val)}'
                f'</div><div class="sub">{escape(sub)}</div></div>'
                for lbl, val, sub in b.items
            )
            out.append(f'<section class="kf">{cards}</section>')
        elif isinstance(b, doc.Figure):
            svg = svgs.get(b.kind)
            if svg is None:
                continue
            out.append(
                f'<figure id="fig-{b.kind}" data-chart="{b.kind}">'
                f"{inline_svg(svg, f'{b.kind}-', b.caption)}"
                f"<figcaption>{escape(b.caption)}</figcaption></figure>"
            )
        elif isinstance(b, doc.CodeBlock):
            out.append(f"<pre><code>{escape(b.text)}</code></pre>")
    toc = "".join(f'<a href="#{escape(a, quote=True)}">{escape(t)}</a>' for a, t in document.toc)
    footer = (
        "Generated by mkba from the run directory; every number comes from its files."
        if lang == "en"
        else "Gemaakt door mkba uit de run-map; elk getal komt uit de bestanden daarin."
    )
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="{lang}">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<meta name="generator" content="mkba">\n'
        f"<title>{escape(document.title)}</title>\n<style>{CSS}</style>\n</head>\n<body>\n<main>\n"
        f'<header class="top"><h1>{escape(document.title)}</h1>'
        f'<p class="subtitle">{escape(document.subtitle)}</p></header>\n'
        f'<nav class="toc">{toc}</nav>\n'
        + "\n".join(out)
        + f"\n<footer>{escape(footer)}</footer>\n</main>\n</body>\n</html>\n"
    )
