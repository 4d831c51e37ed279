"""Benchmark the spine; prints numbers (not a test).

    .venv/bin/python benchmarks/spine.py [--embedder use-m3]

Full ingest into a fresh embedded store, unchanged re-ingest, warm retrieval latency p50/p95 over
100 queries, the wall time of a cold `advisor ask` in a new process, and the applicability engine:
warm `Advisor.assess` over the test profiles, a warm engine-backed `roadmap` answer (no model), and a
cold `advisor assess` in a new process.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from advisor import Advisor
from advisor.settings import load_settings

PROFILES = sorted(p for p in (Path(__file__).resolve().parent.parent / "tests" / "profiles").glob("*.yaml")
                  if not p.name.endswith(".expected.yaml"))
QUERIES = [
    "Do AI-generated images need a label?", "个人信息出境需要什么条件？", "algorithm filing deadline",
    "深度合成服务提供者的义务", "When must a security assessment be done?", "未成年人个人信息保护",
    "data localisation for critical information infrastructure", "网络安全审查 上市", "separate consent sensitive personal information",
    "生成式人工智能 训练数据 知识产权",
]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--embedder", default="use-m3")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(data_dir=Path(tmp), embedder=args.embedder)
        with Advisor(settings) as advisor:
            t = time.perf_counter()
            first = advisor.ingest()
            full = time.perf_counter() - t
            t = time.perf_counter()
            advisor.ingest()
            again = time.perf_counter() - t
            advisor.retrieve(QUERIES[0])  # warm up
            latencies = []
            for i in range(100):
                t = time.perf_counter()
                advisor.retrieve(QUERIES[i % len(QUERIES)], k=10)
                latencies.append((time.perf_counter() - t) * 1000)
            advisor.assess(PROFILES[0])  # warm up: corpus and rulebook
            assess_ms = []
            for path in PROFILES * 5:
                t = time.perf_counter()
                advisor.assess(path)
                assess_ms.append((time.perf_counter() - t) * 1000)
            advisor.ask(template="roadmap", profile=PROFILES[0])
            roadmap_ms = []
            for path in PROFILES:
                t = time.perf_counter()
                advisor.ask(template="roadmap", profile=path)
                roadmap_ms.append((time.perf_counter() - t) * 1000)
        env = dict(os.environ, ADVISOR_DATA_DIR=tmp, ADVISOR_EMBEDDER=args.embedder)
        script = Path(sys.executable).parent / "advisor"
        t = time.perf_counter()
        subprocess.run([str(script), "ask", "Do AI-generated images need a label?", "--json"], env=env, check=True, capture_output=True)
        cold = time.perf_counter() - t
        t = time.perf_counter()
        subprocess.run([str(script), "assess", "--profile", str(PROFILES[0]), "--json"], env=env, check=True, capture_output=True)
        cold_assess = time.perf_counter() - t
    q = statistics.quantiles(latencies, n=100)
    print(f"embedder                  {args.embedder}")
    print(f"corpus                    {first.instruments} instruments, {first.articles} articles, {first.chunks} chunks")
    print(f"full ingest               {full:.1f} s")
    print(f"unchanged re-ingest       {again:.2f} s")
    print(f"retrieval p50 / p95       {q[49]:.1f} ms / {q[94]:.1f} ms  (100 warm queries, k=10)")
    print(f"cold `advisor ask`        {cold:.1f} s")
    print(f"assess p50 / max          {statistics.median(assess_ms):.1f} ms / {max(assess_ms):.1f} ms  ({len(PROFILES)} profiles x 5, warm)")
    print(f"roadmap answer p50 / max  {statistics.median(roadmap_ms):.0f} ms / {max(roadmap_ms):.0f} ms  (engine, no model, warm)")
    print(f"cold `advisor assess`     {cold_assess:.1f} s")


if __name__ == "__main__":
    main()
