"""Benchmark the workspace; prints numbers (not a test).

    .venv/bin/python benchmarks/workspace.py [--systems 200] [--obligations 70] [--url SQLALCHEMY_URL]

Fills a fresh workspace (a SQLite file in a temporary folder by default, or an empty database at --url)
with N systems of M tracked obligations each (real obligation ids and one real assessment as the stored
result, statuses and due dates spread), then times, warm, the list of systems, the dashboard and one
system's checklist (p50 / p95 / max over 50 runs), and one real assessment recorded into the workspace.
Target (issue 13): list and dashboard under 200 ms warm at 200 x 70.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import tempfile
import time
from pathlib import Path

from advisor import Advisor
from advisor.settings import load_settings
from advisor.workspace import STATUSES, Workspace
from advisor.workspace.models import AssessmentRecord, ProfileVersion, System, TrackedObligation, utcnow

PROFILE = {"public_service": True, "features": {"generative_text": True, "generative_image": True,
           "algorithmic_recommendation": True}, "personal_information": True, "pi_subjects": 2_000_000,
           "sensitive_pi": True, "sensitive_pi_subjects": 10_000, "minors_among_users": True}


def timed(fn, runs: int = 50) -> tuple[float, float, float]:
    for _ in range(5):
        fn()
    samples = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t) * 1000)
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.95) - 1], samples[-1]


def fill(ws: Workspace, advisor: Advisor, systems: int, per_system: int) -> None:
    assessment = advisor.assess(PROFILE)
    result = assessment.to_dict()
    from advisor.workspace.corpus_version import corpus_version

    version = corpus_version(advisor.corpus, advisor.rulebook, assessment.as_of)
    ids = list(advisor.rulebook.obligations)
    if per_system > len(ids):
        ids += [f"{i}-extra-{n}" for n in range(per_system // len(ids) + 1) for i in ids]
    spec = advisor.rulebook.obligations
    today, now = dt.date.today(), utcnow()
    levels = ("low", "medium", "high", "critical")
    with ws.sessions.begin() as s:
        for n in range(systems):
            system = System(key=f"system-{n:03d}", name=f"AI system {n:03d}", description="", review_months=3,
                            created_at=now, created_by="bench", updated_at=now, updated_by="bench")
            s.add(system)
            s.flush()
            pv = ProfileVersion(system_id=system.id, number=1, data=PROFILE, note="", created_at=now, created_by="bench")
            s.add(pv)
            s.flush()
            s.add(AssessmentRecord(system_id=system.id, profile_version_id=pv.id, as_of=today, risk_level=levels[n % 4],
                                   applicable=per_system, to_confirm=0, result=result, corpus_version=version,
                                   created_at=now, created_by="bench"))
            for k, oid in enumerate(ids[:per_system]):
                ob = spec.get(oid.split("-extra-")[0])
                s.add(TrackedObligation(
                    system_id=system.id, obligation_id=oid, finding="applies", active=True,
                    status=STATUSES[(n + k) % 4], owner=f"owner {k % 7}", due=today + dt.timedelta(days=(k * 7) % 200 - 60),
                    due_is_default=True, month=k % 6 + 1, stage=ob.spec.stage, title_en=ob.spec.title_en,
                    title_zh=ob.spec.title_zh,
                    citations=[{"instrument": r.instrument, "article": r.article, "label_en": r.label(), "label_zh": r.label()}
                               for r in ob.spec.rests_on],
                    checklist=[e.model_dump() for e in ob.spec.evidence], timing=None, evidence=[], notes="",
                    na_reason="bench" if STATUSES[(n + k) % 4] == "not_applicable" else None,
                    created_at=now, updated_at=now, updated_by="bench"))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--systems", type=int, default=200)
    parser.add_argument("--obligations", type=int, default=70)
    parser.add_argument("--url", default=None, help="an empty database (default: a SQLite file in a temporary folder)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.url or f"sqlite:///{Path(tmp) / 'workspace.db'}"
        advisor = Advisor(load_settings(data_dir=Path(tmp)))
        t = time.perf_counter()
        ws = Workspace.open(url=url)
        opened = time.perf_counter() - t
        t = time.perf_counter()
        fill(ws, advisor, args.systems, args.obligations)
        filled = time.perf_counter() - t
        rows = ws.list_systems()
        assert len(rows) == args.systems and all(r["obligations"] == args.obligations for r in rows)
        lst = timed(ws.list_systems)
        board = timed(ws.dashboard)
        check = timed(lambda: ws.checklist("system-100" if args.systems > 100 else "system-000"))
        ws.add_system("Real system", PROFILE, user="bench")
        t = time.perf_counter()
        ws.assess_system("real-system", advisor, user="bench")
        first_assess = time.perf_counter() - t
        t = time.perf_counter()
        ws.assess_system("real-system", advisor, user="bench")
        second_assess = time.perf_counter() - t
        backend = url.split(":", 1)[0]
        print(f"database                  {backend}")
        print(f"workspace                 {args.systems} systems x {args.obligations} obligations "
              f"({args.systems * args.obligations} tracked rows)")
        print(f"open + migrate            {opened * 1000:.0f} ms")
        print(f"fill                      {filled:.1f} s")
        print(f"list systems p50/p95/max  {lst[0]:.1f} / {lst[1]:.1f} / {lst[2]:.1f} ms  (warm, 50 runs)")
        print(f"dashboard p50/p95/max     {board[0]:.1f} / {board[1]:.1f} / {board[2]:.1f} ms  (warm, 50 runs)")
        print(f"one checklist p50/p95/max {check[0]:.1f} / {check[1]:.1f} / {check[2]:.1f} ms  ({args.obligations} items)")
        print(f"assess + record           {first_assess * 1000:.0f} ms first (snapshots), {second_assess * 1000:.0f} ms again")
        ws.close()
        advisor.close()


if __name__ == "__main__":
    main()
