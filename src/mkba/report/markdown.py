"""The report as Markdown, with the charts as linked PNG files (``charts/<kind>.png``)."""

from __future__ import annotations

from mkba.report import document as doc


def _esc(text: str) -> str:
    """Escape what Markdown would read as markup inside running text (not `code`)."""
    out = []
    for i, piece in enumerate(text.split("`")):
        if i % 2:
            out.append(f"`{piece}`")
        else:
            for ch in ("\\", "*", "_", "[", "]", "<", ">"):
                piece = piece.replace(ch, "\\" + ch)
            out.append(piece)
    return "".join(out)


def safe_url(url: str) -> str:
    """A link target that Markdown and HTML read only as a URL: every character outside the
    URL set (brackets, quotes, angle brackets, spaces, backslashes...) percent-encoded, and
    only http(s) links kept live (anything else becomes ``#``)."""
    from urllib.parse import quote

    if not url.lower().startswith(("http://", "https://")):
        return "#"
    return quote(url, safe="/:?#@!$&+,;=%~-._")


def _inline(part: doc.Inline) -> str:
    if isinstance(part, doc.Link):
        return f"[{_esc(part.text)}]({safe_url(part.url)})"
    if isinstance(part, doc.Strong):
        return (
            f"**{_esc(part.text).strip()}** "
            if part.text.endswith(" ")
            else f"**{_esc(part.text)}**"
        )
    if isinstance(part, doc.Code):
        return f"`{part.text}`"
    if isinstance(part, doc.Small):
        return f"<small>{_esc(part.text)}</small>"
    if isinstance(part, doc.Foreign):
        span = f'<span lang="en">{_esc(part.text)}</span>'
        return f"<small>{span}</small>" if part.small else span
    return _esc(str(part))


def _cell(cell: doc.Cell) -> str:
    text = "".join(_inline(p) for p in cell) if isinstance(cell, list) else _inline(cell)
    return text.replace("|", "\\|").replace("\n", " ")


def _table(t: doc.Table) -> list[str]:
    n = len(t.header)
    align = (t.align or "").ljust(n, "l")
    head = "| " + " | ".join(_esc(h) or " " for h in t.header) + " |"
    rule = "|" + "|".join("---:" if a == "r" else "---" for a in align[:n]) + "|"
    rows = []
    for i, row in enumerate(t.rows):
        cells = [_cell(c) for c in row]
        if i in t.strong_rows:
            cells = [f"**{c}**" if c else c for c in cells]
        rows.append("| " + " | ".join(cells) + " |")
    return [head, rule, *rows, ""]


def render_markdown(document: doc.Document, pngs: dict[str, str]) -> str:
    """The Markdown text of a document; ``pngs`` maps a chart kind to a relative PNG path."""
    out = [f"# {_esc(document.title)}", "", f"*{_esc(document.subtitle)}*", ""]
    for b in document.blocks:
        if isinstance(b, doc.Heading):
            out += ["#" * b.level + " " + _esc(b.text), ""]
        elif isinstance(b, doc.Para):
            text = "".join(_inline(p) for p in b.parts)
            out += [("> " + text) if b.kind in ("note", "warning") else text, ""]
        elif isinstance(b, doc.Bullets):
            out += ["- " + "".join(_inline(p) for p in it) for it in b.items]
            out.append("")
        elif isinstance(b, doc.Table):
            out += _table(b)
        elif isinstance(b, doc.KeyFigures):
            out += ["| " + " | ".join(_esc(lbl) for lbl, _v, _s in b.items) + " |"]
            out += ["|" + "|".join("---:" for _ in b.items) + "|"]
            out += ["| " + " | ".join(f"**{_esc(v)}**" for _l, v, _s in b.items) + " |"]
            out += ["| " + " | ".join(_esc(s) for _l, _v, s in b.items) + " |", ""]
        elif isinstance(b, doc.Figure):
            path = pngs.get(b.kind)
            if path is None:
                continue
            out += [f"![{_esc(b.caption)}]({path})", "", f"*{_esc(b.caption)}*", ""]
        elif isinstance(b, doc.CodeBlock):
            out += ["```bash", b.text, "```", ""]
    return "\n".join(out).rstrip() + "\n"
