"""Query expansion: the words users type -> the words the articles use (corpus/glossary.yaml).

The article words of every glossary entry whose user words occur in a question are added to the question's
sparse (keyword) vector, so "label" also looks for 标识 and "overseas server" for 出境. Matching is that of the
profile terms: English at a word start, case-insensitive; Chinese anywhere.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

from advisor.errors import CorpusError


@dataclass(frozen=True)
class Entry:
    user: tuple[str, ...]
    articles: tuple[str, ...]


@dataclass(frozen=True)
class Glossary:
    entries: tuple[Entry, ...] = ()
    names: tuple[tuple[str, tuple[str, ...]], ...] = ()  # instrument id, the names users give it


@lru_cache(maxsize=4)
def load_glossary(path: Path) -> Glossary:
    """The glossary (empty if the file does not exist); CorpusError naming the entry if malformed."""
    if not path.exists():
        return Glossary()
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise CorpusError([f"{path.name}: not valid YAML: {getattr(exc, 'problem', exc)}"]) from None
    entries = []
    for n, item in enumerate(raw.get("terms") or [], start=1):
        user = item.get("user") or {}
        words = [*(user.get("en") or []), *(user.get("zh") or [])]
        articles = item.get("articles") or []
        if not words or not articles or not all(isinstance(w, str) and w.strip() for w in [*words, *articles]):
            raise CorpusError([f"{path.name}: entry {n} needs user words (en/zh) and article words"])
        entries.append(Entry(tuple(w.lower() for w in words), tuple(articles)))
    names = []
    for iid, spec in (raw.get("instruments") or {}).items():
        words = [*(spec.get("en") or []), *(spec.get("zh") or [])] if isinstance(spec, dict) else []
        if not words or not all(isinstance(w, str) and w.strip() for w in words):
            raise CorpusError([f"{path.name}: instrument '{iid}' needs the names users give it (en/zh)"])
        names.append((iid, tuple(w.lower() for w in words)))
    return Glossary(tuple(entries), tuple(names))


def _occurs(word: str, text: str) -> bool:
    if re.search(r"[\u4e00-\u9fff]", word):
        return word in text
    return re.search(r"(?<![a-z0-9])" + re.escape(word), text) is not None


def expansion(question: str, glossary: Glossary) -> list[str]:
    """The article words of the entries the question matches, each once, in glossary order."""
    low = question.lower()
    found: dict[str, None] = {}
    for entry in glossary.entries:
        if any(_occurs(w, low) for w in entry.user):
            for word in entry.articles:
                found.setdefault(word, None)
    return list(found)


def named_instruments(question: str, glossary: Glossary) -> set[str]:
    """The instruments a question names ("under the PIPL", "《数据安全法》"), by id."""
    low = question.lower()
    return {iid for iid, words in glossary.names if any(_occurs(w, low) for w in words)}
