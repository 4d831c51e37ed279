"""Check every citation a model wrote against the sources it was given; drop what fails.

The model cites a source by the tag printed above it, [<instrument id> art. <N>] (the format a 1.5B
model copied most reliably in our measurements), and quotes Chinese text inside 「」 right before the
tag. A tag must name a source that was given (retrieved articles and their cross-references); a quote
must be a verbatim substring of the source it is attributed to (whitespace and full/half-width forms
ignored). Articles named in prose (《…》第N条) that were not among the sources are flagged.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

from advisor.compose.answer import Citation
from advisor.corpus import to_chinese_numeral
from advisor.retrieve.hybrid import Hit

_TAG = r"[a-z0-9]+(?:-[a-z0-9]+)*\s+art(?:icle)?\.?\s*\d+"
MARKER = re.compile(r"[\[【]\s*(" + _TAG + r"(?:\s*[,，、;；]\s*" + _TAG + r")*)\s*[\]】]", re.IGNORECASE)
_TAG_PARTS = re.compile(r"([a-z0-9]+(?:-[a-z0-9]+)*)\s+art(?:icle)?\.?\s*(\d+)", re.IGNORECASE)


def citation_tag(hit: Hit) -> str:
    """The tag the model copies to cite a source: [pipl-2021 art. 39]."""
    return f"[{hit.instrument_id} art. {hit.article}]"
def article_label(hit: Hit, lang: str) -> str:
    """How an answer shows a citation: 〔PIPL Art. 39 /《…》第三十九条〕 (Chinese answers: 〔《…》第三十九条〕)."""
    if lang == "zh":
        return f"〔《{hit.regulation}》{hit.heading_zh}〕"
    return f"〔{hit.short_en} {hit.article_en} /《{hit.regulation}》{hit.heading_zh}〕"


QUOTE = re.compile(r"「([^」\n]{2,})」")
MENTION = re.compile(r"《([^》\n]{2,40})》\s*第([一二三四五六七八九十百零〇]+)条")


def normalise(text: str) -> str:
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text))


def _numeral_to_int(numeral: str) -> int | None:
    for n in range(1, 400):
        if to_chinese_numeral(n) == numeral:
            return n
    return None


@dataclass
class CitationChecker:
    """Feed the answer line by line (so it can stream); read citations and warnings at the end."""

    sources: list[Hit]
    lang: str = "en"
    citations: dict[int, Citation] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def label(self, hit: Hit) -> str:
        return article_label(hit, self.lang)

    def _source(self, tag: str) -> Hit | None:
        m = _TAG_PARTS.fullmatch(tag.strip())
        if not m:
            return None
        key = (m.group(1).lower(), int(m.group(2)))
        return next((h for h in self.sources if (h.instrument_id, h.article) == key), None)

    def _cite(self, index: int, quote: str | None) -> None:
        hit = self.sources[index]
        current = self.citations.get(index)
        if current is None:
            self.citations[index] = Citation.from_hit(hit, quote or "")
        elif quote and not current.quote:
            current.quote = quote

    def check_line(self, line: str) -> str:
        """The line with valid markers turned into labels and invalid citations removed."""
        out, pos = [], 0
        pending_quotes = [(m.start(), m.end(), m.group(1)) for m in QUOTE.finditer(line)]
        for m in MARKER.finditer(line):
            segment = line[pos:m.start()]
            tags = [t.strip() for t in re.split(r"[,，、;；]", m.group(1))]
            valid = [(t, self._source(t)) for t in tags]
            good = [(t, h) for t, h in valid if h is not None]
            for t, h in valid:
                if h is None:
                    self.warnings.append(f"removed citation [{t}]: not among the retrieved articles")
            # quotes between the previous marker and this one belong to this marker
            quotes = [q for q in pending_quotes if pos <= q[0] and q[1] <= m.start()]
            for q_start, q_end, text in quotes:
                owner = next((h for _, h in good if normalise(text) in normalise(h.text_zh) or normalise(text) in normalise(h.text_en)), None)
                if owner is None:
                    names = ", ".join(f"《{h.regulation}》{h.heading_zh}" for _, h in good) or "no valid source"
                    self.warnings.append(f"removed a quote not found verbatim in {names}: 「{text}」")
                    segment = segment.replace(f"「{text}」", "「…」", 1)
                else:
                    self._cite(self.sources.index(owner), text)
            for _, h in good:
                self._cite(self.sources.index(h), None)
            out.append(segment + "".join(self.label(h) for _, h in good))
            pos = m.end()
        out.append(line[pos:])
        return self._flag_mentions("".join(out))

    def _flag_mentions(self, line: str) -> str:
        """Articles named in prose must be among the sources; otherwise they are marked unverified."""
        def check(m: re.Match) -> str:
            title, number = m.group(1), _numeral_to_int(m.group(2))
            known = any((title == h.regulation or h.regulation.endswith(title) or title.endswith(h.regulation)) and h.article == number for h in self.sources)
            if known or m.group(0) in (self.label(h)[1:-1] for h in self.sources):
                return m.group(0)
            self.warnings.append(f"the answer names {m.group(0)}, which was not among the retrieved articles; check it before relying on it")
            return m.group(0) + ("（未核实）" if self.lang == "zh" else " (unverified)")

        return MENTION.sub(check, line)

    def ordered_citations(self) -> list[Citation]:
        return [self.citations[i] for i in sorted(self.citations)]
