"""The report as one self-contained HTML file: charts inline as SVG, styles inline, no
scripts, no fonts or anything else fetched from a network. Readable on screen and printable
(A4, figures and table rows are not split over pages)."""

from __future__ import annotations

import re
from html import escape
from importlib import resources

from mkba.report import document as doc
from mkba.report.format import check_lang
from mkba.texts import text as tr

CSS = "\n" + resources.files("mkba.report").joinpath("report.css").read_text(encoding="utf-8")
"""The report's styles (package data ``mkba/report/report.css``), inlined in every report."""

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
    if isinstance(part, doc.Foreign):
        span = f'<span lang="en">{escape(part.text)}</span>'
        return f"<small>{span}</small>" if part.small else span
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
    footer = tr("doc.generated_by_mkba_from_the_run", lang)
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
