"""Retrieval (and offline answer) eval against a gold set: `advisor eval --gold FILE`.

Every gold item names the articles that answer its question. Each retriever ranks articles for the
question, on the item's `as_of` date (else today), and is graded with recall@1/3/5/10, MRR and
nDCG@10 (binary relevance), overall, by language and by instrument (that of the first gold article).
A retrieved article matches a gold one when instrument id and article number are equal.

Retrievers:
- ``hybrid``, ``dense``, ``sparse``: the Advisor's modes over its Qdrant store.
- ``bm25s``: plain BM25 (package ``bm25s``) over the same tokens as ``ingest.sparse.tokens``, one
  document per article (its zh and en text), built in memory for the versions in force on each date.
- ``hybrid-minilm``: hybrid with the ``st:all-MiniLM-L6-v2`` embedder, in its own store under the
  eval's work dir (ingested on first use, incremental afterwards).

Outputs in the out dir: ``report.json``, ``report.md`` and ``retrievers.png``.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Sequence

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from advisor.corpus import Corpus, Instrument
from advisor.errors import AdvisorError, read_user_file
from advisor.settings import Settings, load_settings
from ingest.sparse import B as SPARSE_B
from ingest.sparse import K1 as SPARSE_K1
from ingest.sparse import tokens

if TYPE_CHECKING:
    from advisor.compose.answer import Answer
    from advisor.present.advisor import Advisor

Key = tuple[str, int]  # (instrument id, article number)

RETRIEVERS = ("hybrid", "dense", "sparse", "bm25s", "hybrid-minilm")
MINILM = "st:all-MiniLM-L6-v2"
RECALL_KS = (1, 3, 5, 10)
METRICS = ("recall@1", "recall@3", "recall@5", "recall@10", "mrr", "ndcg@10")
ANSWER_METRICS = ("citation_validity", "citation_precision", "citation_recall", "key_point_coverage", "key_point_overlap")
KEY_POINT_OVERLAP = 0.6  # a key point counts as covered when this share of its content words is in the answer
CHART_METRICS = ("recall@1", "recall@3", "recall@5", "recall@10", "mrr")
REQUIRED_FIELDS = ("id", "question", "lang", "gold")
OPTIONAL_FIELDS = {"template": None, "variables": {}, "key_points": [], "tags": [], "as_of": None}
LANGS = ("en", "zh")
SUPPORTED_PROVIDERS = ("offline",)
KEY_POINT_NOTE = (
    "key_point_coverage is a crude string match: the share of key points that occur verbatim in the "
    "answer text after lowercasing. Key points are paraphrases, so extracted (offline) answers score low "
    "on it even when they quote the right article. key_point_overlap is the share of key points at least "
    f"{int(KEY_POINT_OVERLAP * 100)}% of whose content words (jieba tokens for Chinese, stemmed words for English, "
    "as for retrieval) occur in the answer text."
)


# ---- the gold set -------------------------------------------------------------------------------
@dataclass(frozen=True)
class GoldItem:
    """One validated gold question; `gold` holds resolved (instrument id, article) pairs."""

    line: int
    id: str
    question: str
    lang: str
    gold: tuple[Key, ...]
    key_points: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    template: str | None = None
    variables: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)
    as_of: dt.date | None = None

    @property
    def instrument(self) -> str:
        """The instrument of the first (most important) gold article."""
        return self.gold[0][0]

    def day(self, today: dt.date) -> dt.date:
        """The date the item is evaluated on: its `as_of`, else `today`."""
        return self.as_of or today


def resolve_instrument(corpus: Corpus, name: str, day: dt.date) -> Instrument | None:
    """An instrument by id, or by official Chinese title (preferring the version in force on `day`)."""
    if name in corpus.instruments:
        return corpus.instruments[name]
    matches = [i for i in corpus if i.title_zh in (name, f"中华人民共和国{name}")]
    in_force = [i for i in matches if corpus.applies(i, day)]
    return (in_force or matches or [None])[0]


def _str_list(raw: dict, name: str, where: str) -> tuple[str, ...]:
    value = raw[name]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise AdvisorError(f"{where}: '{name}' must be a list of strings")
    return tuple(value)


def _parse_gold_line(line: str, where: str, corpus: Corpus, today: dt.date, number: int) -> GoldItem:
    """One line of the gold file, validated and resolved against the corpus."""
    try:
        raw = json.loads(line)
    except json.JSONDecodeError as exc:
        raise AdvisorError(f"{where}: not valid JSON ({exc.msg} at column {exc.colno})") from None
    if not isinstance(raw, dict):
        raise AdvisorError(f"{where}: expected a JSON object, got {type(raw).__name__}")
    missing = [f for f in REQUIRED_FIELDS if f not in raw]
    if missing:
        raise AdvisorError(f"{where}: missing field(s) {', '.join(missing)}")
    raw = {**{k: (v.copy() if isinstance(v, (dict, list)) else v) for k, v in OPTIONAL_FIELDS.items()}, **raw}
    if not isinstance(raw["id"], str) or not raw["id"].strip():
        raise AdvisorError(f"{where}: 'id' must be a non-empty string")
    where = f"{where} ({raw['id']})"
    if not isinstance(raw["question"], str) or not raw["question"].strip():
        raise AdvisorError(f"{where}: 'question' must be a non-empty string")
    if raw["lang"] not in LANGS:
        raise AdvisorError(f"{where}: 'lang' must be en or zh, not {raw['lang']!r}")
    if raw["template"] is not None and not isinstance(raw["template"], str):
        raise AdvisorError(f"{where}: 'template' must be null or a template name")
    if not isinstance(raw["variables"], dict):
        raise AdvisorError(f"{where}: 'variables' must be an object")
    key_points, tags = _str_list(raw, "key_points", where), _str_list(raw, "tags", where)
    as_of = None
    if raw.get("as_of") is not None:
        try:
            as_of = dt.date.fromisoformat(str(raw["as_of"]))
        except ValueError:
            raise AdvisorError(f"{where}: 'as_of' must be a date like 2025-06-01, not {raw['as_of']!r}") from None
    day = as_of or today
    entries = raw["gold"]
    if not isinstance(entries, list) or not entries:
        raise AdvisorError(f"{where}: 'gold' must be a non-empty list of {{regulation, article}}")
    gold: list[Key] = []
    for entry in entries:
        if not isinstance(entry, dict) or "regulation" not in entry or "article" not in entry:
            raise AdvisorError(f"{where}: every gold entry needs 'regulation' and 'article'")
        name, article = entry["regulation"], entry["article"]
        if not isinstance(article, int) or isinstance(article, bool):
            raise AdvisorError(f"{where}: gold article must be a number, not {article!r}")
        inst = resolve_instrument(corpus, str(name), day)
        if inst is None:
            raise AdvisorError(f"{where}: unknown regulation '{name}' (use a corpus id or the official Chinese title)")
        if inst.article(article) is None:
            raise AdvisorError(f"{where}: {inst.id} has no article {article} (it has {len(inst.articles)})")
        if not corpus.applies(inst, day):
            raise AdvisorError(f"{where}: {inst.id} is not in force on {day}; give the item an 'as_of' date on which it is")
        gold.append((inst.id, article))
    return GoldItem(
        line=number, id=raw["id"], question=raw["question"].strip(), lang=raw["lang"],
        gold=tuple(dict.fromkeys(gold)), key_points=key_points, tags=tags, template=raw["template"],
        variables=raw["variables"], as_of=as_of,
    )


def load_gold(path: Path | str, corpus: Corpus, today: dt.date | None = None) -> list[GoldItem]:
    """Read and validate a gold file (JSON lines); any bad line raises AdvisorError naming it."""
    path = Path(path)
    today = today or dt.date.today()
    text = read_user_file(path, "gold")
    items: list[GoldItem] = []
    seen: dict[str, int] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        item = _parse_gold_line(line, f"{path.name} line {number}", corpus, today, number)
        if item.id in seen:
            raise AdvisorError(f"{path.name} line {number}: duplicate id '{item.id}' (first on line {seen[item.id]})")
        seen[item.id] = number
        items.append(item)
    if not items:
        raise AdvisorError(f"{path} holds no gold items")
    return items


# ---- metrics ------------------------------------------------------------------------------------
def recall_at(ranked: Sequence[Key], gold: Iterable[Key], k: int) -> float:
    """Share of the gold articles found among the first k retrieved."""
    wanted = set(gold)
    return len(wanted & set(ranked[:k])) / len(wanted) if wanted else 0.0


def reciprocal_rank(ranked: Sequence[Key], gold: Iterable[Key]) -> float:
    """1 / rank of the first gold article retrieved; 0 if none is."""
    wanted = set(gold)
    return next((1.0 / rank for rank, key in enumerate(ranked, start=1) if key in wanted), 0.0)


def ndcg_at(ranked: Sequence[Key], gold: Iterable[Key], k: int = 10) -> float:
    """nDCG@k with binary relevance: DCG of the ranking over DCG of all gold articles ranked first."""
    wanted = set(gold)
    dcg = sum(1.0 / math.log2(rank + 1) for rank, key in enumerate(ranked[:k], start=1) if key in wanted)
    ideal = sum(1.0 / math.log2(rank + 1) for rank in range(1, min(len(wanted), k) + 1))
    return dcg / ideal if ideal else 0.0


def item_metrics(ranked: Sequence[Key], gold: Sequence[Key]) -> dict[str, float]:
    """All retrieval metrics of one ranking."""
    out = {f"recall@{k}": recall_at(ranked, gold, k) for k in RECALL_KS}
    out["mrr"] = reciprocal_rank(ranked, gold)
    out["ndcg@10"] = ndcg_at(ranked, gold, 10)
    return out


def mean_metrics(rows: Sequence[dict[str, float | None]], names: Sequence[str] = METRICS) -> dict[str, Any]:
    """Mean of each metric over the rows where it is defined, with the row count `n`."""
    out: dict[str, Any] = {"n": len(rows)}
    for name in names:
        values = [r[name] for r in rows if r.get(name) is not None]
        out[name] = round(sum(values) / len(values), 4) if values else None
    return out


def answer_metrics(answer: "Answer", item: GoldItem, corpus: Corpus) -> dict[str, float | None]:
    """Citation validity / precision / recall and (crude) key-point coverage of one answer.

    None where a metric is undefined (no citations, no key points).
    """
    cited = [(c.instrument_id, c.article) for c in answer.citations]
    valid = [quote_is_verbatim(c.instrument_id, c.article, c.quote, corpus) for c in answer.citations]
    gold = set(item.gold)
    text = answer.text.lower()
    words = set(tokens(answer.text))
    return {
        "citation_validity": sum(valid) / len(valid) if valid else None,
        "citation_precision": sum(k in gold for k in cited) / len(cited) if cited else None,
        "citation_recall": len(gold & set(cited)) / len(gold),
        "key_point_coverage": (sum(p.lower() in text for p in item.key_points) / len(item.key_points)
                               if item.key_points else None),
        "key_point_overlap": (sum(_overlap(p, words) >= KEY_POINT_OVERLAP for p in item.key_points) / len(item.key_points)
                              if item.key_points else None),
    }


def _overlap(point: str, words: set[str]) -> float:
    """Share of a key point's distinct content words that occur among the answer's words."""
    mine = set(tokens(point))
    return len(mine & words) / len(mine) if mine else 0.0


def quote_is_verbatim(instrument_id: str, article: int, quote: str, corpus: Corpus) -> bool:
    """Whether `quote` is a non-empty verbatim substring of the cited article's Chinese text."""
    inst = corpus.instruments.get(instrument_id)
    art = inst.article(article) if inst else None
    return bool(quote) and art is not None and quote in art.zh


# ---- retrievers ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Ranked:
    """One retrieved article."""

    instrument_id: str
    article: int
    score: float

    @property
    def key(self) -> Key:
        return (self.instrument_id, self.article)

    def to_dict(self) -> dict[str, Any]:
        return {"regulation": self.instrument_id, "article": self.article, "score": round(self.score, 6)}


Retrieve = Callable[[str, int, dt.date], list[Ranked]]  # (question, k, day) -> ranking


def advisor_retriever(advisor: "Advisor", mode: str) -> Retrieve:
    """A retriever over the Advisor's Qdrant store in one of its modes (hybrid, dense, sparse)."""

    def retrieve(question: str, k: int, day: dt.date) -> list[Ranked]:
        hits = advisor.retrieve(question, k, as_of=day, mode=mode)  # type: ignore[arg-type]
        return [Ranked(h.instrument_id, h.article, h.score) for h in hits]

    return retrieve


class BM25Baseline:
    """Plain BM25 (bm25s) over `ingest.sparse.tokens` of each article's zh + en text, in memory.

    One index per set of instrument versions in force (built on first use for a date). Query tokens
    are de-duplicated, as in the store's sparse queries. k1 and b are those of `ingest.sparse`.
    """

    def __init__(self, corpus: Corpus, k1: float = SPARSE_K1, b: float = SPARSE_B):
        try:
            import bm25s
        except ImportError:
            raise AdvisorError("the bm25s retriever needs the bm25s package: pip install -e '.[eval]'") from None
        self._bm25s = bm25s
        self.corpus, self.k1, self.b = corpus, k1, b
        self._indexes: dict[tuple[str, ...], tuple[Any, list[Key]]] = {}

    def _index(self, day: dt.date) -> tuple[Any, list[Key]]:
        versions = tuple(sorted(i.id for i in self.corpus.in_force(day)))
        if versions not in self._indexes:
            keys: list[Key] = []
            docs: list[list[str]] = []
            for iid in versions:
                for art in self.corpus.instruments[iid].articles:
                    keys.append((iid, art.number))
                    docs.append(tokens(f"{art.zh}\n{art.en}"))
            model = self._bm25s.BM25(k1=self.k1, b=self.b)
            model.index(docs, show_progress=False)
            self._indexes[versions] = (model, keys)
        return self._indexes[versions]

    def __call__(self, question: str, k: int, day: dt.date) -> list[Ranked]:
        import numpy as np

        model, keys = self._index(day)
        ids = model.get_tokens_ids(list(dict.fromkeys(tokens(question))))
        if not ids:
            return []
        scores = model.get_scores_from_ids(ids)
        order = np.argsort(-scores, kind="stable")[:k]
        return [Ranked(keys[i][0], keys[i][1], float(scores[i])) for i in order if scores[i] > 0]


def parse_retrievers(spec: str | Sequence[str]) -> list[str]:
    """Retriever names from 'all', one name, or a comma-separated list; AdvisorError if unknown."""
    names = [s.strip() for s in (spec.split(",") if isinstance(spec, str) else spec) if s.strip()]
    if names == ["all"]:
        return list(RETRIEVERS)
    unknown = [n for n in names if n not in RETRIEVERS]
    if unknown or not names:
        raise AdvisorError(
            f"unknown retriever '{', '.join(unknown) or spec}'; use {', '.join(RETRIEVERS)} or all "
            "(several: comma-separated)"
        )
    return list(dict.fromkeys(names))


def check_provider(provider: str | None) -> None:
    """Only the offline provider can be graded for now."""
    if provider is not None and provider not in SUPPORTED_PROVIDERS:
        raise AdvisorError(
            f"--provider {provider}: not yet supported: answer metrics need the LLM chain "
            "(use --provider offline, or leave it out to grade retrieval only)"
        )


# ---- the run ------------------------------------------------------------------------------------
@dataclass
class EvalResult:
    """What a run produced: the report (as written to report.json) and the output paths."""

    report: dict[str, Any]
    report_json: Path
    report_md: Path
    chart: Path
    seconds: float


def run_eval(
    settings: Settings | None = None,
    gold_path: Path | str = Path("evals/gold/gold.jsonl"),
    *,
    k: int = 10,
    retrievers: str | Sequence[str] = "hybrid",
    provider: str | None = None,
    out_dir: Path | str = Path("eval-out"),
    work_dir: Path | str | None = None,
    advisor: "Advisor | None" = None,
    progress: bool = True,
    today: dt.date | None = None,
) -> EvalResult:
    """Grade the retrievers (and, with provider="offline", the answers) on a gold file; write the reports.

    `advisor`: an open Advisor to reuse (its settings win); otherwise one is made from `settings` and
    closed at the end. `work_dir` (default out_dir/work) holds the hybrid-minilm store.
    """
    from advisor.present.advisor import Advisor

    started = time.perf_counter()
    names = parse_retrievers(retrievers)
    check_provider(provider)
    if not 1 <= k <= 100:
        raise AdvisorError(f"--k must be between 1 and 100, not {k}")
    out_dir = Path(out_dir)
    work_dir = Path(work_dir) if work_dir else out_dir / "work"
    today = today or dt.date.today()
    own = advisor is None
    main = advisor or Advisor(settings or load_settings())
    settings = main.settings
    extra: list["Advisor"] = []
    console = Console(stderr=True)
    try:
        corpus = main.corpus
        items = load_gold(gold_path, corpus, today)
        funcs: dict[str, Retrieve] = {}
        for name in names:
            if name in ("hybrid", "dense", "sparse"):
                funcs[name] = advisor_retriever(main, name)
            elif name == "bm25s":
                funcs[name] = BM25Baseline(corpus)
            elif name == "hybrid-minilm":
                minilm = Advisor(settings.model_copy(update={
                    "embedder": MINILM, "data_dir": work_dir / "minilm", "qdrant_path": None,
                }))
                extra.append(minilm)
                minilm.ingest(console=console)
                funcs[name] = advisor_retriever(minilm, "hybrid")

        rankings: dict[str, dict[str, list[Ranked]]] = {name: {} for name in names}
        seconds: dict[str, float] = {}
        answers: dict[str, "Answer"] = {}
        bar = Progress(
            TextColumn("[bold]{task.description:<14}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
            console=console, disable=not progress, transient=False,
        )
        with bar:
            for name in names:
                task = bar.add_task(name, total=len(items))
                t0 = time.perf_counter()
                for item in items:
                    rankings[name][item.id] = funcs[name](item.question, k, item.day(today))
                    bar.advance(task)
                seconds[name] = time.perf_counter() - t0
            if provider:
                task = bar.add_task(f"ask ({provider})", total=len(items))
                t0 = time.perf_counter()
                for item in items:
                    if item.template:  # asked the way a user asks it: the template with its variables
                        answers[item.id] = main.ask(template=item.template, variables=item.variables, lang=item.lang,
                                                    as_of=item.day(today))
                    else:
                        answers[item.id] = main.ask(item.question, lang=item.lang, as_of=item.day(today))
                    bar.advance(task)
                seconds[f"ask ({provider})"] = time.perf_counter() - t0
    finally:
        for adv in extra:
            adv.close()
        if own:
            main.close()

    report = build_report(items, rankings, answers, corpus, provider=provider, k=k, today=today,
                          gold_path=Path(gold_path), settings=settings, seconds=seconds)
    report["seconds"]["total"] = round(time.perf_counter() - started, 2)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = (out_dir / "report.json", out_dir / "report.md", out_dir / "retrievers.png")
    paths[0].write_text(json.dumps(report, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    paths[1].write_text(render_markdown(report), encoding="utf-8")
    write_chart(report, paths[2])
    return EvalResult(report, *paths, seconds=time.perf_counter() - started)


def _splits(rows: dict[str, dict[str, float | None]], items: list[GoldItem], names: Sequence[str]) -> tuple[dict, dict]:
    by_lang: dict[str, list] = defaultdict(list)
    by_inst: dict[str, list] = defaultdict(list)
    for item in items:
        by_lang[item.lang].append(rows[item.id])
        by_inst[item.instrument].append(rows[item.id])
    return (
        {lang: mean_metrics(by_lang[lang], names) for lang in sorted(by_lang)},
        {inst: mean_metrics(by_inst[inst], names) for inst in sorted(by_inst, key=lambda i: (-len(by_inst[i]), i))},
    )


def build_report(
    items: list[GoldItem],
    rankings: dict[str, dict[str, list[Ranked]]],
    answers: dict[str, "Answer"],
    corpus: Corpus,
    *,
    provider: str | None,
    k: int,
    today: dt.date,
    gold_path: Path,
    settings: Settings,
    seconds: dict[str, float],
) -> dict[str, Any]:
    """The report as a JSON-ready dict: per item, totals per retriever, splits, failures, answers."""
    names = list(rankings)
    metrics = {name: {i.id: item_metrics([r.key for r in rankings[name][i.id]], i.gold) for i in items} for name in names}
    report: dict[str, Any] = {
        "gold_file": str(gold_path),
        "created": dt.datetime.now().isoformat(timespec="seconds"),
        "today": today.isoformat(),
        "k": k,
        "items_count": len(items),
        "langs": {lang: sum(i.lang == lang for i in items) for lang in LANGS},
        "retrievers": names,
        "embedder": settings.embedder,
        "seconds": {name: round(s, 2) for name, s in seconds.items()},
        "totals": {name: mean_metrics(list(metrics[name].values())) for name in names},
        "by_lang": {},
        "by_instrument": {},
        "failed": {name: [i.id for i in items if metrics[name][i.id]["recall@10"] == 0] for name in names},
    }
    for name in names:
        report["by_lang"][name], report["by_instrument"][name] = _splits(metrics[name], items, METRICS)
    answer_rows: dict[str, dict[str, float | None]] = {}
    if answers:
        answer_rows = {i.id: answer_metrics(answers[i.id], i, corpus) for i in items}
        by_lang, by_inst = _splits(answer_rows, items, ANSWER_METRICS)
        by_kind = {kind: mean_metrics([answer_rows[i.id] for i in items if bool(i.template) == (kind == "template")], ANSWER_METRICS)
                   for kind in ("template", "free")}
        by_provider: dict[str, list] = defaultdict(list)
        for i in items:
            by_provider[answers[i.id].provider.split("+")[0].split(":")[0]].append(answer_rows[i.id])
        report["answers"] = {
            "provider": provider, "totals": mean_metrics(list(answer_rows.values()), ANSWER_METRICS),
            "by_lang": by_lang, "by_kind": by_kind,
            "by_answerer": {k: mean_metrics(v, ANSWER_METRICS) for k, v in sorted(by_provider.items())},
            "by_instrument": by_inst, "note": KEY_POINT_NOTE,
        }
    report["items"] = []
    for item in items:
        row: dict[str, Any] = {
            "id": item.id, "line": item.line, "question": item.question, "lang": item.lang,
            "template": item.template, "as_of": item.day(today).isoformat(), "instrument": item.instrument,
            "gold": [{"regulation": iid, "article": art} for iid, art in item.gold],
            "key_points": list(item.key_points),
            "retrieved": {name: [r.to_dict() for r in rankings[name][item.id]] for name in names},
            "metrics": {name: {m: round(v, 4) for m, v in metrics[name][item.id].items()} for name in names},
        }
        if item.id in answers:
            ans = answers[item.id]
            row["answer"] = {
                "text": ans.text,
                "citations": [
                    {"regulation": c.instrument_id, "article": c.article, "quote": c.quote,
                     "verbatim": quote_is_verbatim(c.instrument_id, c.article, c.quote, corpus)}
                    for c in ans.citations
                ],
                "metrics": answer_rows[item.id],
            }
        report["items"].append(row)
    return report


# ---- outputs ------------------------------------------------------------------------------------
def _fmt(value: Any) -> str:
    return "–" if value is None else f"{value:.3f}" if isinstance(value, float) else str(value)


def _table(rows: list[tuple[str, dict]], names: Sequence[str], first: str) -> list[str]:
    lines = [f"| {first} | n | " + " | ".join(names) + " |", "|---|---:|" + "---:|" * len(names)]
    for label, stats in rows:
        lines.append(f"| {label} | {stats['n']} | " + " | ".join(_fmt(stats[m]) for m in names) + " |")
    return lines


def render_markdown(report: dict[str, Any]) -> str:
    """report.md: totals, a table per retriever with its splits, failed items, answer metrics."""
    names = report["retrievers"]
    langs = ", ".join(f"{n} {lang}" for lang, n in report["langs"].items())
    md = [
        "# Retrieval eval", "",
        f"Gold: `{report['gold_file']}` ({report['items_count']} items: {langs}). k = {report['k']}. "
        f"Items without `as_of` use {report['today']}. Run {report['created']}, "
        f"{report['seconds'].get('total', 0):.1f} s. Embedder of the main store: `{report['embedder']}`.",
        "",
        "A retrieved article counts when instrument id and article number equal a gold article's. "
        "recall@k is the share of an item's gold articles in the top k; MRR uses the first gold hit; "
        "nDCG@10 uses binary relevance. By instrument = the instrument of the item's first gold article.",
        "", "## Totals", "",
        *_table([(n, report["totals"][n]) for n in names], METRICS, "retriever"),
    ]
    for name in names:
        rows = [("**all**", report["totals"][name])]
        rows += [(f"lang {lang}", s) for lang, s in report["by_lang"][name].items()]
        rows += [(f"`{inst}`", s) for inst, s in report["by_instrument"][name].items()]
        md += ["", f"## {name}", "", f"{report['seconds'].get(name, 0):.1f} s for {report['items_count']} questions.", ""]
        md += _table(rows, METRICS, "split")
    failed_for = "hybrid" if "hybrid" in names else names[0]
    failed = report["failed"][failed_for]
    items = {i["id"]: i for i in report["items"]}
    md += ["", f"## Failed items ({failed_for}: recall@10 = 0): {len(failed)}", ""]
    for item_id in failed:
        item = items[item_id]
        gold = ", ".join(f"{g['regulation']} Art. {g['article']}" for g in item["gold"])
        top = ", ".join(f"{r['regulation']} Art. {r['article']}" for r in item["retrieved"][failed_for][:3]) or "nothing"
        md.append(f"- `{item_id}` ({item['lang']}): {item['question']}  \n  gold: {gold}; top 3: {top}")
    if not failed:
        md.append("None.")
    if "answers" in report:
        ans = report["answers"]
        rows = [("**all**", ans["totals"])] + [(f"lang {lang}", s) for lang, s in ans["by_lang"].items()]
        rows += [(f"{kind} items", s) for kind, s in ans.get("by_kind", {}).items()]
        rows += [(f"answered by {who}", s) for who, s in ans.get("by_answerer", {}).items()]
        md += ["", f"## Answers (provider {ans['provider']})", "", *_table(rows, ANSWER_METRICS, "split"), "",
               "citation_validity: share of citations whose quote is a verbatim substring of the cited article's "
               "Chinese text. citation_precision / recall: cited articles against the gold articles.",
               "", ans["note"]]
    return "\n".join(md) + "\n"


def write_chart(report: dict[str, Any], path: Path) -> None:
    """retrievers.png: grouped bars of recall@1/3/5/10 and MRR, one group per retriever."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise AdvisorError("the eval chart needs matplotlib: pip install -e '.[eval]'") from None
    names = report["retrievers"]
    fig = Figure(figsize=(max(6.0, 1.6 * len(names) + 2), 4.5), dpi=120)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    width = 0.8 / len(CHART_METRICS)
    for j, metric in enumerate(CHART_METRICS):
        xs = [i + (j - (len(CHART_METRICS) - 1) / 2) * width for i in range(len(names))]
        values = [report["totals"][n][metric] or 0.0 for n in names]
        bars = ax.bar(xs, values, width, label=metric.replace("mrr", "MRR"))
        ax.bar_label(bars, labels=[f"{v:.2f}" for v in values], fontsize=6, padding=1)
    ax.set_xticks(range(len(names)), names)
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("score")
    ax.set_title(f"Retrieval on {report['items_count']} gold questions (k = {report['k']})")
    ax.legend(ncols=len(CHART_METRICS), fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.08), frameon=False)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
