"""Dutch and English words of charts, tables and reports.

Two sources: the fixed words of the product (the catalogue :mod:`mkba.texts`, looked up
with :func:`t`) and the names of the model's own things (streams, stakeholders, components,
domains, areas), which live in the parameter files as ``label`` and ``label_nl`` and are read
by :class:`Labels`.
Without a parameter set (a run whose scenario file cannot be found) ids stand in for names.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mkba.texts import check_lang, has, text, text_or

if TYPE_CHECKING:
    from mkba.load import ParameterSet


def t(key: str, lang: str, **kw: object) -> str:
    """The text of ``key`` in ``lang`` from the catalogue (:func:`mkba.texts.text`)."""
    return text(key, lang, **kw)


def param_words(key: str, lang: str) -> str:
    """What the last part of a parameter path means (``deadweight`` -> ``meeliftereffect``);
    a key the catalogue does not hold stays as written."""
    return text_or(f"param.{key}", lang, key)


def _lower_first(text: str) -> str:
    """``Bespaarde Wmo-kosten`` -> ``bespaarde Wmo-kosten`` (names inside keep their capitals;
    an abbreviation such as ``GGZ`` stays as it is)."""
    if len(text) > 1 and text[0].isupper() and text[1].islower():
        return text[0].lower() + text[1:]
    return text


class Labels:
    """Names of a run's streams, stakeholders, components, domains and areas in one language."""

    def __init__(
        self,
        lang: str,
        params: ParameterSet | None = None,
        names: dict[str, dict[str, str]] | None = None,
    ) -> None:
        """Names from a parameter set, or ``names`` (kind -> id -> name) as a run directory
        stores them (:mod:`mkba.report.inputs`)."""
        self.lang = check_lang(lang)
        self.params = params
        self._names = names or {}
        self._area_names: dict[str, str] = dict(self._names.get("area", {}))
        if params is not None:
            area_names = params.areas.text.get("name")
            if area_names is not None:
                self._area_names = dict(zip(params.areas.ids, area_names, strict=True))

    def t(self, key: str, **kw: object) -> str:
        return t(key, self.lang, **kw)

    def _pick(self, obj: object, fallback: str) -> str:
        if obj is None:
            return fallback
        return str(getattr(obj, "label_nl" if self.lang == "nl" else "label", fallback))

    def _stored(self, kind: str, key: str) -> str | None:
        return self._names.get(kind, {}).get(key)

    def stream(self, s: str) -> str:
        if (x := self._stored("stream", s)) is not None:
            return x
        st = self.params.streams.get(s) if self.params else None
        return self._pick(st, s)

    def stakeholder(self, k: str) -> str:
        if (x := self._stored("stakeholder", k)) is not None:
            return x
        sh = self.params.model.stakeholders.get(k) if self.params else None
        return self._pick(sh, k)

    def domain(self, d: str) -> str:
        if (x := self._stored("domain", d)) is not None:
            return x
        dm = self.params.model.domains.get(d) if self.params else None
        return self._pick(dm, d)

    def component(self, c: str) -> str:
        """``stream.component`` -> the component's name (``Bespaarde uitkeringen``)."""
        if (x := self._stored("component", c)) is not None:
            return x
        s, _, comp = c.partition(".")
        st = self.params.streams.get(s) if self.params else None
        obj = st.components.get(comp) if st is not None else None
        return self._pick(obj, c)

    def area(self, a: str) -> str:
        return self._area_names.get(a, a)

    def perspective(self, p: str) -> str:
        return self.t(f"perspective.{p}") if has(f"perspective.{p}") else p

    def param(self, path: str) -> str:
        """A parameter path in words: ``streams.safety.effect`` -> ``Safety (crime): effect size``."""
        parts = path.split(".")
        if parts[0] == "streams" and len(parts) >= 3:
            head = self.stream(parts[1])
            if parts[2] == "components" and len(parts) >= 5:
                head = f"{head}, {_lower_first(self.component(parts[1] + '.' + parts[3]))}"
                key = parts[4]
            else:
                key = ".".join(parts[2:])
            words = param_words(key, self.lang)
            return f"{head}: {words}"
        if parts[0] == "costs" and len(parts) == 3:
            words = param_words(parts[2], self.lang)
            return f"{self.domain(parts[1])}: {words}"
        if parts[0] == "programme" and len(parts) == 2:
            return param_words(parts[1], self.lang).capitalize()
        if parts[0] == "interventions" and len(parts) >= 4:
            head = self.intervention(parts[1])
            if parts[2] == "effects" and len(parts) == 5:
                # an effect's own words where they differ from a stream's (half-life of the
                # effect, not after the programme), else the stream's
                words = text_or(f"param.intervention.{parts[4]}", self.lang, "")
                words = words or param_words(parts[4], self.lang)
                return f"{head}, {_lower_first(self.stream(parts[3]))}: {words}"
            return f"{head}: {param_words('.'.join(parts[2:]), self.lang)}"
        return path

    def intervention(self, i: str) -> str:
        """A measure of a bottom-up programme by name (``Schuldhulpverlening``)."""
        if (x := self._stored("intervention", i)) is not None:
            return x
        f = self.params.interventions.get(i) if self.params else None
        return self._pick(f, i)


def unit_text(unit: object, lang: str) -> str:
    """A unit as the reader's language writes it (``EUR/person/year`` -> ``EUR/persoon/jaar``,
    words from the catalogue's ``unit.*``); unknown words stay as written."""
    if not isinstance(unit, str) or not unit:
        return ""
    if lang != "nl":
        return unit
    return "/".join(text_or(f"unit.{part}", lang, part) for part in unit.split("/"))


def origin_text(origin: object, lang: str) -> str:
    """Where a value came from (see :meth:`mkba.load.Spec.origin`), in words."""
    if not isinstance(origin, str) or not origin:
        return ""
    return text_or(f"origin.{origin}", lang, origin)
