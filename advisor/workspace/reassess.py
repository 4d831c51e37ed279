"""What changed for a system since its last stored assessment: obligations added, removed or changed, and
the article-level changes that caused them.

The stored assessment carries its corpus version (a hash per instrument and per obligation rule, and the
as-of date) and the workspace keeps a snapshot of every instrument version it has assessed against. A fresh
assessment of the current profile is compared with it:

* obligations: added, removed (with the facts that now decide it), changed (applies <-> to confirm, other
  articles cited, the rule itself edited, or the text of a cited article changed);
* instruments: a changed text (same id, new hash) is diffed article by article; a new version taking over
  (e.g. ``csl-2016`` -> ``csl-2025``, because it was added or because the as-of date passed its effective
  date) is diffed against the version it supersedes, pairing articles by text so renumbering shows
  (e.g. Art. 37 -> Art. 39); instruments added, removed or changing status are listed.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any, Callable

from advisor.compose.assess import Assessment
from advisor.corpus import Corpus
from advisor.workspace.corpus_version import corpus_version, short, snapshot

SIMILAR = 0.5  # bigram Dice similarity above which two article texts are the same article, changed


def _norm(text: str) -> str:
    return re.sub(r"\s+", "", text)


def _bigrams(text: str) -> set[str]:
    t = _norm(text)
    return {t[i:i + 2] for i in range(len(t) - 1)} or {t}


def _dice(a: set[str], b: set[str]) -> float:
    return 2 * len(a & b) / (len(a) + len(b)) if a or b else 1.0


def pair_articles(old: list[dict], new: list[dict]) -> dict:
    """Pair the articles of two versions ([{number, zh}]) by their text.

    Returns {"unchanged": count, "renumbered": [{"old", "new"}], "changed": [{"old", "new", "similarity"}],
    "added": [numbers], "removed": [numbers]}. Identical texts pair first (same number preferred), then the
    rest greedily by similarity (character bigrams), so an amended and renumbered article still pairs."""
    old_left = {a["number"]: a["zh"] for a in old}
    new_left = {a["number"]: a["zh"] for a in new}
    unchanged, renumbered, changed = 0, [], []
    by_text: dict[str, list[int]] = {}
    for n, text in new_left.items():
        by_text.setdefault(_norm(text), []).append(n)
    for o in sorted(old_left):
        candidates = by_text.get(_norm(old_left[o]), [])
        if not candidates:
            continue
        n = o if o in candidates else candidates[0]
        candidates.remove(n)
        del old_left[o], new_left[n]
        if n == o:
            unchanged += 1
        else:
            renumbered.append({"old": o, "new": n})
    grams_old = {o: _bigrams(t) for o, t in old_left.items()}
    grams_new = {n: _bigrams(t) for n, t in new_left.items()}
    scores = sorted(((_dice(go, gn), -abs(o - n), o, n) for o, go in grams_old.items() for n, gn in grams_new.items()),
                    reverse=True)
    for score, _, o, n in scores:
        if score < SIMILAR:
            break
        if o in old_left and n in new_left:
            del old_left[o], new_left[n]
            changed.append({"old": o, "new": n, "similarity": round(score, 3)})
    changed.sort(key=lambda c: c["old"])
    return {"unchanged": unchanged, "renumbered": renumbered, "changed": changed,
            "added": sorted(new_left), "removed": sorted(old_left)}


def _articles(data: dict) -> list[dict]:
    return data.get("articles", [])


def instrument_changes(old_version: dict, new_version: dict, load_snapshot: Callable[[str], dict | None],
                       corpus: Corpus) -> list[dict]:
    """Instrument-level changes between two corpus versions, with article diffs where texts differ."""
    old_i, new_i = old_version.get("instruments", {}), new_version.get("instruments", {})
    out: list[dict] = []

    def old_data(iid: str) -> dict | None:
        return load_snapshot(old_i[iid]["hash"]) if iid in old_i else None

    def new_data(iid: str) -> dict:
        return snapshot(corpus.instruments[iid])

    for iid in sorted(set(old_i) | set(new_i)):
        o, n = old_i.get(iid), new_i.get(iid)
        if o is None:
            out.append({"instrument": iid, "change": "added", "in_force": n["in_force"]})
            continue
        if n is None:
            out.append({"instrument": iid, "change": "removed"})
            continue
        entry: dict[str, Any] = {"instrument": iid}
        if o["hash"] != n["hash"]:
            before = old_data(iid)
            entry["change"] = "text_changed"
            entry["articles"] = pair_articles(_articles(before), _articles(new_data(iid))) if before else None
            if before is None:
                entry["note"] = "the earlier text was not kept (assessed before snapshots existed)"
            for field in ("status", "effective"):
                if o.get(field) != n.get(field):
                    entry[field] = {"old": o.get(field), "new": n.get(field)}
        elif o.get("in_force") != n.get("in_force"):
            entry["change"] = "now_in_force" if n["in_force"] else "no_longer_in_force"
        else:
            continue
        out.append(entry)
    # a new version taking over from the one it supersedes: pair their articles (renumbering)
    for iid, n in new_i.items():
        if not n.get("in_force") or iid not in corpus.instruments:
            continue
        for prev in corpus.instruments[iid].supersedes:
            was = old_i.get(prev)
            if was and was.get("in_force") and not old_i.get(iid, {}).get("in_force"):
                before = load_snapshot(was["hash"])
                if before:
                    out.append({"instrument": iid, "change": "new_version", "replaces": prev,
                                "articles": pair_articles(_articles(before), _articles(new_data(iid)))})
    return out


def _cited(findings: list[dict]) -> dict[str, dict]:
    return {f["id"]: {"status": f.get("status", "applies"), "citations": [(c["instrument"], c["article"]) for c in f.get("citations", [])],
                      "title_en": f["title_en"], "title_zh": f["title_zh"]} for f in findings}


def _article_events(changes: list[dict]) -> dict[tuple[str, int], str]:
    """(instrument, article) -> what happened to it, for the articles that changed."""
    events: dict[tuple[str, int], str] = {}
    for ch in changes:
        arts = ch.get("articles")
        iid = ch["instrument"]
        if not arts:
            continue
        if ch["change"] == "new_version":
            prev = ch["replaces"]
            for p in arts["renumbered"]:
                events[(iid, p["new"])] = f"{prev} Art. {p['old']} -> {iid} Art. {p['new']} (same text, renumbered)"
            for p in arts["changed"]:
                moved = f"{prev} Art. {p['old']} -> {iid} Art. {p['new']}"
                events[(iid, p["new"])] = f"{moved} (amended, {round(p['similarity'] * 100)}% similar)"
            for number in arts["added"]:
                events[(iid, number)] = f"{iid} Art. {number} is new in this version"
        else:
            for p in arts["changed"]:
                where = f"Art. {p['old']}" + (f" -> Art. {p['new']}" if p["old"] != p["new"] else "")
                events[(iid, p["new"])] = f"{iid} {where}: text amended ({round(p['similarity'] * 100)}% similar)"
            for p in arts["renumbered"]:
                events[(iid, p["new"])] = f"{iid} Art. {p['old']} -> Art. {p['new']} (renumbered)"
            for number in arts["added"]:
                events[(iid, number)] = f"{iid} Art. {number} was added"
    return events


def compare(stored: dict, fresh: Assessment, corpus: Corpus, rulebook: Any,
            load_snapshot: Callable[[str], dict | None]) -> dict:
    """The report: risk, obligations added/removed/changed with their causes, and instrument changes."""
    old_version = stored["corpus_version_full"]
    new_version = corpus_version(corpus, rulebook, fresh.as_of)
    changes = instrument_changes(old_version, new_version, load_snapshot, corpus)
    events = _article_events(changes)
    old_ob = stored["result"]["obligations"]
    before = _cited([*old_ob["applicable"], *old_ob["to_confirm"]])
    now = {f.id: {"status": f.status, "citations": [(c.instrument, c.article) for c in f.citations],
                  "title_en": f.title_en, "title_zh": f.title_zh} for f in (*fresh.applicable, *fresh.to_confirm)}
    reasons_now = {f.id: list(f.reasons) for f in (*fresh.applicable, *fresh.to_confirm, *fresh.not_applicable)}
    old_rules, new_rules = old_version.get("obligations", {}), new_version.get("obligations", {})

    def label(pair) -> str:
        return f"{pair[0]} Art. {pair[1]}"

    added = [{"id": oid, "title_en": v["title_en"], "title_zh": v["title_zh"], "status": v["status"],
              "articles": [label(c) for c in v["citations"]], "because": reasons_now.get(oid, []),
              "caused_by": [events[c] for c in v["citations"] if c in events]
              + (["the rule is new in the rulebook"] if oid not in old_rules else [])}
             for oid, v in sorted(now.items()) if oid not in before]
    removed = [{"id": oid, "title_en": v["title_en"], "title_zh": v["title_zh"], "articles": [label(c) for c in v["citations"]],
                "because": reasons_now.get(oid, ["the rule was removed from the rulebook"])}
               for oid, v in sorted(before.items()) if oid not in now]
    changed = []
    for oid in sorted(set(before) & set(now)):
        b, n = before[oid], now[oid]
        what = []
        if b["status"] != n["status"]:
            what.append(f"status {b['status']} -> {n['status']}")
        gone = [label(c) for c in b["citations"] if c not in n["citations"]]
        new = [label(c) for c in n["citations"] if c not in b["citations"]]
        if gone or new:
            what.append("articles cited: " + ", ".join([f"-{x}" for x in gone] + [f"+{x}" for x in new]))
        if old_rules.get(oid) and new_rules.get(oid) and old_rules[oid] != new_rules[oid]:
            what.append("the rule was edited in the rulebook")
        caused = [events[c] for c in n["citations"] if c in events]
        if caused and not gone and not new:
            what.append("the text of a cited article changed")
        if what:
            changed.append({"id": oid, "title_en": n["title_en"], "title_zh": n["title_zh"], "changes": what,
                            "articles": [label(c) for c in n["citations"]], "caused_by": caused})
    return {
        "old": {"assessment": stored["id"], "as_of": stored["as_of"], "risk_level": stored["risk_level"],
                "corpus_version": short(old_version)},
        "new": {"as_of": fresh.as_of.isoformat(), "risk_level": fresh.risk_level, "corpus_version": short(new_version)},
        "obligations": {"added": added, "removed": removed, "changed": changed},
        "instruments": changes,
        "unchanged": not (added or removed or changed or changes) and stored["risk_level"] == fresh.risk_level,
    }


def report_text(system: str, report: dict) -> str:
    """The report as plain text for the command line."""
    o, n = report["old"], report["new"]
    lines = [f"{system}: assessment #{o['assessment']} (as of {o['as_of']}, corpus {o['corpus_version']}, risk {o['risk_level']})"
             f" -> now (as of {n['as_of']}, corpus {n['corpus_version']}, risk {n['risk_level']})"]
    if report["unchanged"]:
        return lines[0] + "\n  no change\n"
    ob = report["obligations"]
    for item in ob["added"]:
        lines.append(f"  + {item['id']} ({item['status']}): {item['title_en']} [{'; '.join(item['articles'])}]")
        lines += [f"      because {c}" for c in item["caused_by"]]
    for item in ob["removed"]:
        lines.append(f"  - {item['id']}: {item['title_en']} (now: {'; '.join(item['because'][:3])})")
    for item in ob["changed"]:
        lines.append(f"  ~ {item['id']}: {'; '.join(item['changes'])}")
        lines += [f"      because {c}" for c in item["caused_by"]]
    for ch in report["instruments"]:
        head = f"  instrument {ch['instrument']}: {ch['change'].replace('_', ' ')}"
        if ch["change"] == "new_version":
            head += f" (replaces {ch['replaces']})"
        lines.append(head)
        arts = ch.get("articles")
        if arts:
            if arts["renumbered"]:
                lines.append("      renumbered: " + ", ".join(f"{p['old']}->{p['new']}" for p in arts["renumbered"]))
            if arts["changed"]:
                lines.append("      amended: " + ", ".join(f"{p['old']}->{p['new']}" if p["old"] != p["new"] else str(p["old"])
                                                         for p in arts["changed"]))
            if arts["added"]:
                lines.append("      new articles: " + ", ".join(map(str, arts["added"])))
            if arts["removed"]:
                lines.append("      removed articles: " + ", ".join(map(str, arts["removed"])))
            lines.append(f"      unchanged: {arts['unchanged']}")
    return "\n".join(lines) + "\n"
