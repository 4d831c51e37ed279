"""Validate evals/gold/gold.jsonl against the corpus files and print its counts.

Usage:  python evals/gold/check_gold.py            # validate, print summary, exit 1 on any problem
        python evals/gold/check_gold.py --markdown # also print the count tables used in README.md

Reads the corpus YAML directly (no project code, no retrieval), so it can grade the retrieval
without depending on it.
"""
from __future__ import annotations

import collections
import datetime as dt
import json
import sys
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
GOLD = HERE / "gold.jsonl"
TAGS = set(
    "threshold version not_applicable template labeling filing security_assessment personal_info "
    "cross_border minors cii data_security content deep_synthesis algorithm generative_ai penalties "
    "rights sensitive_pi incident".split()
)
TEMPLATES = {
    "requirements": {"use_case", "industry"},
    "architecture_review": {"system_description"},
    "disclosure_text": {"platform", "industry", "content_type", "function"},
    "risk_level": {"business_model"},
    "roadmap": {"business_description"},
}
MIN_ITEMS, MIN_ZH, N_TEMPLATES, MIN_NOT_APPLICABLE, MIN_PER_INSTRUMENT = 160, 55, 10, 6, 5


def has_cjk(s: str) -> bool:
    return any("\u4e00" <= c <= "\u9fff" for c in s)


def load_corpus() -> dict:
    corpus = {}
    for f in sorted((ROOT / "corpus" / "instruments").glob("*.yaml")):
        d = yaml.safe_load(f.read_text(encoding="utf-8"))
        corpus[d["id"]] = d
    return corpus


def in_force(corpus: dict, iid: str, day: dt.date) -> bool:
    d = corpus[iid]
    if d.get("status") == "draft" or not d.get("effective"):
        return False
    start = dt.date.fromisoformat(str(d["effective"]))
    ends = [dt.date.max]
    if d.get("repealed"):
        ends.append(dt.date.fromisoformat(str(d["repealed"])))
    nxt = d.get("superseded_by")
    if nxt and nxt in corpus and corpus[nxt].get("effective"):
        ends.append(dt.date.fromisoformat(str(corpus[nxt]["effective"])))
    return start <= day < min(ends)


def main(markdown: bool = False) -> int:
    corpus = load_corpus()
    with_articles = sorted(i for i, d in corpus.items() if d.get("articles"))
    articles = {(i, a["number"]) for i, d in corpus.items() for a in d.get("articles") or []}
    today = dt.date.today()
    errors: list[str] = []
    items: list[dict] = []
    for n, line in enumerate(GOLD.read_text(encoding="utf-8").splitlines(), 1):
        try:
            o = json.loads(line)
        except json.JSONDecodeError as e:
            errors.append(f"line {n}: not JSON ({e})")
            continue
        items.append(o)
        iid = o.get("id", f"line {n}")
        missing = {"id", "question", "lang", "template", "variables", "gold", "key_points", "tags"} - o.keys()
        if missing:
            errors.append(f"{iid}: missing fields {sorted(missing)}")
            continue
        if o["lang"] not in ("en", "zh"):
            errors.append(f"{iid}: lang {o['lang']!r}")
        if o["lang"] == "zh" and not has_cjk(o["question"]):
            errors.append(f"{iid}: zh question without Chinese")
        if o["lang"] == "en" and has_cjk(o["question"]):
            errors.append(f"{iid}: en question with Chinese")
        if not 1 <= len(o["key_points"]) <= 4:
            errors.append(f"{iid}: {len(o['key_points'])} key points")
        if not o["gold"]:
            errors.append(f"{iid}: empty gold")
        pairs = [(g["regulation"], g["article"]) for g in o["gold"]]
        if len(set(pairs)) != len(pairs):
            errors.append(f"{iid}: duplicate gold article")
        day = dt.date.fromisoformat(o["as_of"]) if "as_of" in o else today
        for p in pairs:
            if p not in articles:
                errors.append(f"{iid}: no article {p[1]} in {p[0]}")
            elif not in_force(corpus, p[0], day):
                errors.append(f"{iid}: {p[0]} not in force on {day}")
        if any(r in ("csl-2016", "csl-2025") for r, _ in pairs) and "as_of" not in o:
            errors.append(f"{iid}: Cybersecurity Law item without as_of")
        bad = set(o["tags"]) - TAGS
        if bad:
            errors.append(f"{iid}: unknown tags {sorted(bad)}")
        if o["template"] is None:
            if o["variables"] or "template" in o["tags"]:
                errors.append(f"{iid}: variables or template tag without template")
        elif o["template"] not in TEMPLATES:
            errors.append(f"{iid}: unknown template {o['template']!r}")
        elif set(o["variables"]) != TEMPLATES[o["template"]]:
            errors.append(f"{iid}: variables {sorted(o['variables'])} for {o['template']}")
    for i, c in collections.Counter(o.get("id") for o in items).items():
        if c > 1:
            errors.append(f"duplicate id {i}")

    primary = collections.Counter(o["gold"][0]["regulation"] for o in items)
    cited = collections.Counter(r for o in items for r in {g["regulation"] for g in o["gold"]})
    langs = collections.Counter(o["lang"] for o in items)
    tags = collections.Counter(t for o in items for t in o["tags"])
    templates = collections.Counter(o["template"] for o in items if o["template"])
    as_of = collections.Counter(o.get("as_of") for o in items if o.get("as_of"))
    checks = {
        f">= {MIN_ITEMS} items": len(items) >= MIN_ITEMS,
        f">= {MIN_ZH} zh items": langs["zh"] >= MIN_ZH,
        f"{N_TEMPLATES} template items": sum(templates.values()) == N_TEMPLATES,
        f">= {MIN_NOT_APPLICABLE} not_applicable items": tags["not_applicable"] >= MIN_NOT_APPLICABLE,
        f">= {MIN_PER_INSTRUMENT} items (first gold) for every instrument with article text":
            all(primary[i] >= MIN_PER_INSTRUMENT for i in with_articles),
        "version items for both Cybersecurity Law texts": {"csl-2016", "csl-2025"} <= set(primary),
    }
    print(f"{len(items)} items; lang {dict(langs)}; templates {dict(templates)}; as_of {dict(as_of)}")
    no_text = sorted(set(corpus) - set(with_articles))
    if no_text:
        print(f"instruments without article text (cannot be gold): {', '.join(no_text)}")
    for name, ok in checks.items():
        print(("ok   " if ok else "FAIL ") + name)
    for e in errors:
        print("ERROR", e)
    if markdown:
        print("\n| Instrument | first gold | cited anywhere |\n|---|---:|---:|")
        for i in sorted(corpus, key=lambda i: (-primary[i], i)):
            print(f"| `{i}` | {primary[i]} | {cited[i]} |")
        print("\n| Language | items |\n|---|---:|")
        for k in ("en", "zh"):
            print(f"| {k} | {langs[k]} |")
        print("\n| Tag | items |\n|---|---:|")
        for t, c in sorted(tags.items(), key=lambda x: (-x[1], x[0])):
            print(f"| {t} | {c} |")
        print("\n| Template | items |\n|---|---:|")
        for t, c in sorted(templates.items()):
            print(f"| {t} | {c} |")
    return 1 if errors or not all(checks.values()) else 0


if __name__ == "__main__":
    sys.exit(main("--markdown" in sys.argv))
