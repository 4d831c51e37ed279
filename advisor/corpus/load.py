"""Load and validate the corpus folder; every problem names its file and article."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import pickle
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from pydantic import ValidationError

from advisor.corpus.annotations import Annotations, check_annotations
from advisor.corpus.problems import Problem
from advisor.corpus.schema import Article, Instrument, Status
from advisor.errors import CorpusError

FAR_FUTURE = dt.date(9999, 12, 31)


@dataclass
class Corpus:
    """All instrument versions, by id, with the dates each one applies."""

    instruments: dict[str, Instrument]
    files: dict[str, Path] = field(default_factory=dict)
    annotations: Annotations = field(default_factory=Annotations)  # our notes on articles (never law)

    def __iter__(self):
        return iter(self.instruments.values())

    def __len__(self) -> int:
        return len(self.instruments)

    def get(self, key: str) -> Instrument | None:
        """By id, or by official Chinese title (the version in force today if several share it)."""
        if key in self.instruments:
            return self.instruments[key]
        matches = [i for i in self.instruments.values() if i.title_zh == key or i.title_zh == f"中华人民共和国{key}"]
        if not matches:
            return None
        today = dt.date.today()
        in_force = [i for i in matches if self.applies(i, today)]
        return (in_force or matches)[0]

    def article(self, key: str, number: int) -> Article | None:
        inst = self.get(key)
        return inst.article(number) if inst else None

    def valid_to(self, inst: Instrument) -> dt.date:
        """First day the instrument no longer applies (successor in force, or repeal; an annex ends
        with the instrument it belongs to)."""
        ends = [FAR_FUTURE]
        parent = self.instruments.get(inst.annex_of) if inst.annex_of else None
        if parent is not None and parent.id != inst.id:
            ends.append(self.valid_to(parent))
        if inst.repealed:
            ends.append(inst.repealed)
        if inst.superseded_by and inst.superseded_by in self.instruments:
            successor = self.instruments[inst.superseded_by]
            if successor.effective:
                ends.append(successor.effective)
        return min(ends)

    def applies(self, inst: Instrument, as_of: dt.date) -> bool:
        """Whether this version is the law at `as_of` (drafts never are)."""
        if inst.status is Status.draft or inst.effective is None:
            return False
        return inst.effective <= as_of < self.valid_to(inst)

    def in_force(self, as_of: dt.date) -> list[Instrument]:
        return [i for i in self.instruments.values() if self.applies(i, as_of)]


def _yaml_error(path: Path, exc: yaml.YAMLError) -> Problem:
    mark = getattr(exc, "problem_mark", None)
    where = f" (line {mark.line + 1})" if mark else ""
    return Problem(path.name, None, f"not valid YAML{where}: {getattr(exc, 'problem', exc)}")


def _validation_problems(path: Path, raw: dict, exc: ValidationError) -> list[Problem]:
    problems = []
    for err in exc.errors():
        loc = list(err["loc"])
        article = None
        if len(loc) >= 2 and loc[0] == "articles" and isinstance(loc[1], int):
            items = raw.get("articles") or []
            item = items[loc[1]] if loc[1] < len(items) else None
            article = item.get("number") if isinstance(item, dict) else None
            if not isinstance(article, int):
                article = loc[1] + 1
            loc = loc[2:]
        field_name = ".".join(str(p) for p in loc) or "file"
        problems.append(Problem(path.name, article, f"{field_name}: {err['msg']}"))
    return problems


def read_instrument(path: Path) -> tuple[Instrument | None, list[Problem]]:
    """Parse and validate one file; problems instead of exceptions."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        return None, [_yaml_error(path, exc)]
    except (OSError, UnicodeDecodeError) as exc:
        return None, [Problem(path.name, None, f"cannot read file: {exc}")]
    if not isinstance(raw, dict):
        return None, [Problem(path.name, None, "expected a mapping of fields at the top level")]
    try:
        inst = Instrument.model_validate(raw)
    except ValidationError as exc:
        return None, _validation_problems(path, raw, exc)
    problems = []
    if inst.id != path.stem:
        problems.append(Problem(path.name, None, f"id '{inst.id}' does not match the file name"))
    problems += _numbering_problems(path.name, inst)
    return inst, problems


def _numbering_problems(name: str, inst: Instrument) -> list[Problem]:
    """Complete instruments run 1..N; incomplete ones may have gaps, but exactly their missing_articles."""
    problems: list[Problem] = []
    held = [a.number for a in inst.articles]
    if inst.complete:
        for position, number in enumerate(held, start=1):
            if number != position:
                problems.append(Problem(name, number, f"article numbers must run 1..N; expected {position} here"))
                break
        if inst.total_articles is not None and inst.total_articles != len(held):
            problems.append(Problem(name, None, f"total_articles is {inst.total_articles} but {len(held)} articles are held (coverage is complete)"))
    else:
        for before, number in zip(held, held[1:]):
            if number <= before:
                problems.append(Problem(name, number, f"article numbers must increase; {number} follows {before}"))
        held_set, missing = set(held), set(inst.missing_articles)
        if len(missing) != len(inst.missing_articles):
            problems.append(Problem(name, None, "missing_articles lists an article twice"))
        for number in sorted(held_set & missing):
            problems.append(Problem(name, number, "article is held but also listed in missing_articles"))
        if inst.total_articles is not None:
            expected = set(range(1, inst.total_articles + 1))
            for number in sorted(held_set - expected):
                problems.append(Problem(name, number, f"article number beyond total_articles ({inst.total_articles})"))
            for number in sorted(missing - expected):
                problems.append(Problem(name, number, f"missing article beyond total_articles ({inst.total_articles})"))
            for number in sorted(expected - held_set - missing):
                problems.append(Problem(name, number, "article is neither held nor listed in missing_articles"))
        elif held:
            gaps = set(range(1, max(held) + 1)) - held_set
            for number in sorted(gaps - missing):
                problems.append(Problem(name, number, "article is neither held nor listed in missing_articles"))
            for number in sorted(missing - gaps - held_set):
                problems.append(Problem(name, number, "listed in missing_articles, but with total_articles unknown only gaps below the highest article held can be listed"))
    for number in inst.verification.unverified_articles:
        if inst.article(number) is None:
            problems.append(Problem(name, number, "listed in verification.unverified_articles but not held"))
    return problems


def _cross_problems(corpus: Corpus) -> list[Problem]:
    problems = []
    for inst in corpus:
        name = corpus.files[inst.id].name
        for target in [*inst.supersedes, *([inst.superseded_by] if inst.superseded_by else [])]:
            if target not in corpus.instruments:
                problems.append(Problem(name, None, f"unknown instrument '{target}' in supersedes/superseded_by"))
        if inst.annex_of:
            parent = corpus.instruments.get(inst.annex_of)
            if parent is None or parent.id == inst.id:
                problems.append(Problem(name, None, f"annex_of: unknown instrument '{inst.annex_of}'"))
            elif (parent.effective, parent.status) != (inst.effective, inst.status):
                problems.append(Problem(name, None, f"an annex applies with its instrument: effective date and status must equal those of '{parent.id}'"))
        for art in inst.articles:
            for moved in art.displaced_by:
                target = corpus.instruments.get(moved.instrument)
                if target is None:
                    problems.append(Problem(name, art.number, f"displaced_by: unknown instrument '{moved.instrument}'"))
                elif target.article(moved.article) is None:
                    problems.append(Problem(name, art.number, f"displaced_by: '{target.id}' has no article {moved.article}"))
                elif target.id == inst.id and moved.article == art.number:
                    problems.append(Problem(name, art.number, "displaced_by: an article cannot displace itself"))
                elif target.status is Status.draft:
                    problems.append(Problem(name, art.number, f"displaced_by: '{target.id}' is a draft, never law"))
            for ref in art.refs:
                target = corpus.instruments.get(ref.instrument or inst.id)
                if target is None:
                    problems.append(Problem(name, art.number, f"reference to unknown instrument '{ref.instrument}'"))
                elif ref.article is not None and target.article(ref.article) is None:
                    problems.append(Problem(name, art.number, f"reference to missing article {ref.article} of '{target.id}'"))
    return problems


def check_corpus(corpus_dir: Path) -> tuple[Corpus, list[Problem]]:
    """Load every instrument file and return the corpus with all problems found."""
    files = sorted(Path(corpus_dir, "instruments").glob("*.yaml"))
    if not files:
        return Corpus({}), [Problem(str(corpus_dir), None, "no instrument files (instruments/*.yaml) found")]
    corpus = Corpus({})
    problems: list[Problem] = []
    for path in files:
        inst, found = read_instrument(path)
        problems += found
        if inst is None:
            continue
        if inst.id in corpus.instruments:
            other = corpus.files[inst.id].name
            problems.append(Problem(path.name, None, f"duplicate id '{inst.id}' (also in {other})"))
            continue
        corpus.instruments[inst.id] = inst
        corpus.files[inst.id] = path
    problems += _cross_problems(corpus)
    corpus.annotations, found = check_annotations(Path(corpus_dir), corpus.instruments)
    problems += found
    return corpus, problems


def load_corpus(corpus_dir: Path, cache_dir: Path | None = None) -> Corpus:
    """The validated corpus; raises CorpusError listing every problem.

    With `cache_dir`, a valid corpus is pickled there under a key made of every file loading reads
    (all of corpus/ but obligations/) and of this package's code, and loaded from that pickle while
    neither changes.
    """
    path = _cache_path(Path(corpus_dir), cache_dir) if cache_dir is not None else None
    if path is not None and path.exists():
        try:
            with path.open("rb") as f:
                cached = pickle.load(f)
            if isinstance(cached, Corpus):
                return cached
        except Exception:  # noqa: BLE001 - a damaged or outdated cache is rebuilt
            pass
    corpus, problems = check_corpus(corpus_dir)
    if problems:
        raise CorpusError([str(p) for p in problems])
    if path is not None:
        _write_cache(path, corpus)
    return corpus


_CODE = Path(__file__).resolve().parent  # advisor/corpus: the schema and the loader


def _cache_path(corpus_dir: Path, cache_dir: Path) -> Path | None:
    digest = hashlib.sha256(str(corpus_dir.resolve()).encode())  # Corpus.files holds absolute paths
    try:
        for root in (corpus_dir, _CODE):
            for dirpath, dirnames, filenames in os.walk(root):
                dirnames[:] = sorted(d for d in dirnames if d not in ("obligations", "__pycache__"))
                for name in sorted(filenames):
                    file = Path(dirpath, name)
                    digest.update(f"{file.relative_to(root)}\0".encode())
                    digest.update(hashlib.sha256(file.read_bytes()).digest())
    except OSError:
        return None
    return cache_dir / f"corpus-{digest.hexdigest()[:32]}.pickle"


def _write_cache(path: Path, corpus: Corpus) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        for old in path.parent.glob("corpus-*.pickle"):
            old.unlink(missing_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        with tmp.open("wb") as f:
            pickle.dump(corpus, f, protocol=pickle.HIGHEST_PROTOCOL)
        tmp.replace(path)
    except OSError:  # a read-only data folder only costs the speed-up
        pass
