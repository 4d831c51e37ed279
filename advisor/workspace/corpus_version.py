"""The corpus version an assessment used: a content hash per instrument and per obligation rule, plus the
as-of date; and snapshots of instrument texts, so a later corpus can be compared with the one assessed."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Any

from advisor.corpus import Corpus
from advisor.corpus.schema import Instrument


def _digest(data: Any) -> str:
    return hashlib.sha256(json.dumps(data, ensure_ascii=False, sort_keys=True, default=str).encode("utf-8")).hexdigest()


def instrument_hash(inst: Instrument) -> str:
    """Content hash of one instrument version (metadata and every article's text)."""
    return _digest(inst.model_dump(mode="json"))


def snapshot(inst: Instrument) -> dict:
    """What is kept of an instrument version to diff it later: its metadata and article texts."""
    return {
        "id": inst.id, "title_zh": inst.title_zh, "short_en": inst.short_en, "status": inst.status.value,
        "effective": inst.effective.isoformat() if inst.effective else None,
        "supersedes": list(inst.supersedes), "superseded_by": inst.superseded_by,
        "articles": [{"number": a.number, "zh": a.zh, "en": a.en} for a in inst.articles],
    }


def _instrument_hashes(corpus: Corpus) -> dict[str, str]:
    """Hashes of every instrument, computed once per loaded corpus (kept on the object)."""
    cached = corpus.__dict__.get("_content_hashes")
    if cached is None or set(cached) != set(corpus.instruments):
        cached = {inst.id: instrument_hash(inst) for inst in corpus}
        corpus.__dict__["_content_hashes"] = cached
    return cached


def corpus_version(corpus: Corpus, rulebook: Any, as_of: dt.date) -> dict:
    """{"as_of", "instruments": {id: {hash, status, effective, in_force}}, "obligations": {id: hash}}."""
    hashes = _instrument_hashes(corpus)
    instruments = {
        inst.id: {"hash": hashes[inst.id], "status": inst.status.value,
                  "effective": inst.effective.isoformat() if inst.effective else None,
                  "in_force": corpus.applies(inst, as_of)}
        for inst in sorted(corpus, key=lambda i: i.id)
    }
    rules = {}
    for oid, ob in getattr(rulebook, "obligations", {}).items():
        rules[oid] = _digest(ob.spec.model_dump(mode="json"))[:16]
    return {"as_of": as_of.isoformat(), "instruments": instruments, "obligations": rules}


def short(version: dict) -> str:
    """One short fingerprint of a whole corpus version (for listings and the audit log)."""
    return _digest({k: v["hash"] for k, v in version.get("instruments", {}).items()} | {"rules": version.get("obligations")})[:12]
