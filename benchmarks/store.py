"""Benchmark the store and the service around it; prints numbers (not a test).

    .venv/bin/python benchmarks/store.py [--sizes 10000,50000,200000] [--queries 30] [--requests 120]

In one run, side by side:
- warm retrieval p50/p95 (the store's query, the question already embedded) for Qdrant Edge (the
  shipped store), qdrant-client local mode (the store before Edge) and a numpy brute-force bound
  doing the same work (both dense searches, the sparse search with IDF counted twice, the as-of
  filter, RRF), at the corpus size and at synthetic sizes (corpus chunks repeated with noise on their
  vectors); local mode only where a query takes seconds, not minutes;
- full ingest and unchanged re-ingest of the corpus (Edge and local mode);
- a cold `advisor ask` in a new process;
- `advisor serve --no-ui`: time until /healthz is 200, HTTP throughput and p50/p95 of POST
  /v1/retrieve and POST /v1/ask at 1, 10 and 50 concurrent clients, and the server's peak RSS.
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from advisor import Advisor
from advisor.settings import load_settings
from advisor.store import Point, Scope, open_store
from advisor.store.sync import wanted_points
from ingest.chunk import date_int
from ingest.sparse import document_vector, query_vector

QUERIES = [
    "Do AI-generated images need a label?", "个人信息出境需要什么条件？", "algorithm filing deadline",
    "深度合成服务提供者的义务", "When must a security assessment be done?", "未成年人个人信息保护",
    "data localisation for critical information infrastructure", "网络安全审查 上市", "separate consent sensitive personal information",
    "生成式人工智能 训练数据 知识产权",
]
ADVISOR = str(Path(sys.executable).parent / "advisor")
PREFETCH, LIMIT, SPARSE_WEIGHT = 60, 60, 2


def pct(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100)[q - 1] if len(values) > 1 else values[0]


def rss_mb(pid: int | str = "self") -> tuple[float, float]:
    """(current, peak) resident set size in MB, from /proc."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        fields[key] = value.strip()
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


# ---- the corpus as points, and synthetic collections made from it ----------------------------------

def corpus_points(advisor: Advisor) -> list[Point]:
    """Every chunk of the corpus with its real vectors (embedded once here)."""
    wanted = wanted_points(advisor.corpus, advisor.settings, advisor.embedder)
    chunks = list(wanted.items())
    zh = advisor.embedder.embed([c.dense_texts()[0] for _, c in chunks])
    en = advisor.embedder.embed([c.dense_texts()[1] for _, c in chunks])
    return [Point(pid, vz.tolist(), ve.tolist(), document_vector(c.sparse_text()), dict(c.payload))
            for (pid, c), vz, ve in zip(chunks, zh, en)]


class Collection:
    """n points as arrays: the corpus chunks repeated (row i is chunk i mod 624), their dense vectors
    moved by noise beyond the first copy; Points are made batch by batch when written."""

    def __init__(self, points: list[Point], n: int, seed: int = 7):
        rng = np.random.default_rng(seed)
        self.base = points
        self.rows = np.arange(n) % len(points)
        self.zh = np.array([p.dense_zh for p in points], dtype=np.float32)[self.rows]
        self.en = np.array([p.dense_en for p in points], dtype=np.float32)[self.rows]
        if n > len(points):
            for matrix in (self.zh, self.en):
                for start in range(len(points), n, 20000):
                    part = matrix[start:start + 20000]
                    part += rng.normal(0, 0.03, part.shape).astype(np.float32)
                    part /= np.linalg.norm(part, axis=1, keepdims=True)

    def __len__(self) -> int:
        return len(self.rows)

    def batch(self, start: int, size: int) -> list[Point]:
        out = []
        for i in range(start, min(len(self), start + size)):
            p = self.base[self.rows[i]]
            out.append(Point(f"{i:08d}-0000-4000-8000-000000000000", self.zh[i].tolist(), self.en[i].tolist(), p.sparse, p.payload))
        return out


# ---- the numpy bound ----------------------------------------------------------------------------------

class NumpyIndex:
    """Brute force: dense dot products, an inverted index for the sparse vectors with Qdrant's IDF,
    the as-of mask, RRF (k = 2) over the same branches as the store's query."""

    def __init__(self, data: "Collection"):
        self.zh, self.en = data.zh, data.en
        points = [data.base[r] for r in data.rows]
        self.valid_from = np.array([p.payload["valid_from"] for p in points])
        self.valid_to = np.array([p.payload["valid_to"] for p in points])
        self.draft = np.array([p.payload["is_draft"] for p in points], dtype=bool)
        postings: dict[int, tuple[list[int], list[float]]] = {}
        for row, p in enumerate(points):
            for token, value in zip(*p.sparse):
                docs, values = postings.setdefault(token, ([], []))
                docs.append(row)
                values.append(value)
        n = len(points)
        self.postings = {t: (np.array(d), np.array(v, dtype=np.float32) * math.log((n - len(d) + 0.5) / (len(d) + 0.5) + 1))
                         for t, (d, v) in postings.items()}
        self.n = n

    def search(self, zh_vec, en_vec, sparse, day: int) -> np.ndarray:
        mask = (self.valid_from <= day) & (self.valid_to > day) & ~self.draft
        rankings = []
        for matrix, vector in ((self.zh, zh_vec), (self.en, en_vec)):
            scores = np.where(mask, matrix @ vector, -np.inf)
            top = np.argpartition(-scores, PREFETCH)[:PREFETCH]
            rankings.append(top[np.argsort(-scores[top])])
        sparse_scores = np.zeros(self.n, dtype=np.float32)
        for token in sparse[0]:
            hit = self.postings.get(token)
            if hit is not None:
                np.add.at(sparse_scores, hit[0], hit[1])
        sparse_scores = np.where(mask & (sparse_scores > 0), sparse_scores, -np.inf)
        top = np.argpartition(-sparse_scores, PREFETCH)[:PREFETCH]
        top = top[np.isfinite(sparse_scores[top])]
        rankings += [top[np.argsort(-sparse_scores[top])]] * SPARSE_WEIGHT
        fused: dict[int, float] = {}
        for ranking in rankings:
            for rank, row in enumerate(ranking):
                fused[int(row)] = fused.get(int(row), 0.0) + 1.0 / (rank + 2)
        return np.array(sorted(fused, key=fused.__getitem__, reverse=True)[:LIMIT])


# ---- measurements -------------------------------------------------------------------------------------

class Question:
    """What a search needs from a question, made the way the retriever makes it (embedded on one
    thread, tokenised), and timed: each call is a new text, so no cache answers it."""

    def __init__(self, advisor: Advisor):
        self.embedder, self.n = advisor.embedder, 0

    def __call__(self) -> tuple[np.ndarray, tuple[list[int], list[float]]]:
        self.n += 1
        text = f"{QUERIES[self.n % len(QUERIES)]} {self.n}"
        return self.embedder.embed([text])[0], query_vector(text)


def time_store(store, question: Question, queries: int, day: int) -> list[float]:
    """Warm retrieval in ms: the question's vectors, then the store's query."""
    scope = Scope(day=day)
    vec, sparse = question()
    store.search(vec.tolist(), vec.tolist(), sparse, scope, LIMIT, PREFETCH, SPARSE_WEIGHT)  # warm
    out = []
    for _ in range(queries):
        t = time.perf_counter()
        vec, sparse = question()
        store.search(vec.tolist(), vec.tolist(), sparse, scope, LIMIT, PREFETCH, SPARSE_WEIGHT)
        out.append((time.perf_counter() - t) * 1000)
    return out


def time_numpy(index: NumpyIndex, question: Question, queries: int, day: int) -> list[float]:
    vec, sparse = question()
    index.search(vec, vec, sparse, day)
    out = []
    for _ in range(queries):
        t = time.perf_counter()
        vec, sparse = question()
        index.search(vec, vec, sparse, day)
        out.append((time.perf_counter() - t) * 1000)
    return out


def fill(kind: str, folder: Path, data: Collection, dim: int):
    store = open_store(load_settings(data_dir=folder, store=kind), f"bench{len(data)}")
    store.ensure(dim)
    t = time.perf_counter()
    for start in range(0, len(data), 500):
        store.upsert(data.batch(start, 500))
    store.flush()
    return store, time.perf_counter() - t


def retrieval_table(advisor: Advisor, sizes: list[int], queries: int, local_max: int) -> list[str]:
    day = date_int(dt.date.today(), 0)
    points = corpus_points(advisor)
    inputs = Question(advisor)
    rows = []
    for n in [len(points)] + sizes:
        data = Collection(points, n)
        cells = {}
        with tempfile.TemporaryDirectory() as tmp:
            edge, load_s = fill("edge", Path(tmp) / "edge", data, advisor.embedder.dim)
            ms = time_store(edge, inputs, queries, day)
            cells["edge"] = f"{pct(ms, 50):8.1f} / {pct(ms, 95):8.1f}"
            edge.close()
            if n <= local_max:
                local, _ = fill("local", Path(tmp) / "local", data, advisor.embedder.dim)
                ms = time_store(local, inputs, max(3, queries // 10) if n > 1000 else queries, day)
                cells["local"] = f"{pct(ms, 50):8.1f} / {pct(ms, 95):8.1f}"
                local.close()
            else:
                cells["local"] = "    (not run: minutes)"
            index = NumpyIndex(data)
            ms = time_numpy(index, inputs, queries, day)
            cells["numpy"] = f"{pct(ms, 50):8.1f} / {pct(ms, 95):8.1f}"
            del index, data
        rows.append(f"{n:>9,}  {cells['edge']:>21}  {cells['local']:>21}  {cells['numpy']:>21}   (Edge load {load_s:.1f} s, RSS {rss_mb()[0]:.0f} MB)")
        print(rows[-1], flush=True)
    return rows


def ingest_times(kind: str) -> tuple[float, float, int]:
    with tempfile.TemporaryDirectory() as tmp, Advisor(load_settings(data_dir=Path(tmp), store=kind)) as advisor:
        advisor.embedder.embed(["warm"])
        t = time.perf_counter()
        report = advisor.ingest()
        full = time.perf_counter() - t
        t = time.perf_counter()
        advisor.ingest()
        return full, time.perf_counter() - t, report.chunks


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def load(url: str, path: str, clients: int, requests: int) -> tuple[float, list[float], int]:
    """`requests` POSTs spread over `clients` threads; (requests per second, latencies ms, errors)."""
    import httpx

    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    counter = iter(range(requests))

    def worker():
        with httpx.Client(base_url=url, timeout=300) as client:
            while True:
                with lock:
                    i = next(counter, None)
                if i is None:
                    return
                body = {"question": f"{QUERIES[i % len(QUERIES)]} {i}"}  # a new text: no cache answers it
                t = time.perf_counter()
                r = client.post(path, json=body)
                ms = (time.perf_counter() - t) * 1000
                with lock:
                    latencies.append(ms)
                    errors[0] += r.status_code != 200

    threads = [threading.Thread(target=worker) for _ in range(clients)]
    t = time.perf_counter()
    [th.start() for th in threads]
    [th.join() for th in threads]
    return requests / (time.perf_counter() - t), latencies, errors[0]


WRK_SCRIPT = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local questions = {%s}
local i = 0
request = function()
  i = i + 1  -- a new text each time (a number appended), so no cache answers it
  local body = '{"question": "' .. questions[(i %% #questions) + 1] .. ' ' .. i .. '"}'
  return wrk.format(nil, nil, nil, body)
end
"""


def wrk_load(url: str, path: str, clients: int, seconds: int) -> tuple[float, float, float, int]:
    """wrk (a load generator in C: the client costs little CPU): (req/s, p50 ms, p99 ms, errors)."""
    import json
    import re

    bodies = ", ".join("[[" + json.dumps(q, ensure_ascii=False)[1:-1] + "]]" for q in QUERIES)
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(WRK_SCRIPT % bodies)
    try:
        out = subprocess.run(["wrk", "-t1", f"-c{clients}", f"-d{seconds}s", "--timeout", "60s", "--latency", "-s", f.name, url + path],
                             capture_output=True, text=True, check=True).stdout
    finally:
        os.unlink(f.name)

    def ms(label: str) -> float:
        value, unit = re.search(rf"^\s*{label}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M).groups()
        return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]

    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return rps, ms("50"), ms("99"), int(errors.group(1)) if errors else 0


def http_table(data_dir: Path, requests: int) -> list[str]:
    import httpx

    port = free_port()
    env = dict(os.environ, ADVISOR_DATA_DIR=str(data_dir))
    t = time.perf_counter()
    proc = subprocess.Popen([ADVISOR, "serve", "--no-ui", "--port", str(port)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    rows = []
    try:
        while True:
            try:
                if httpx.get(url + "/healthz", timeout=5).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if proc.poll() is not None or time.perf_counter() - t > 300:
                raise SystemExit("advisor serve did not start")
            time.sleep(0.05)
        ready = time.perf_counter() - t
        rows.append(f"`advisor serve` ready      {ready:.1f} s (until /healthz is 200, index complete)")
        use_wrk = shutil.which("wrk") is not None
        rows.append("load generator: " + ("wrk (C), 15 s per level" if use_wrk else "Python threads with httpx (install wrk: the client competes for the same cores)"))
        for path in ("/v1/retrieve", "/v1/ask"):
            load(url, path, 2, 10)  # warm
            base = None
            for clients in (1, 10, 50):
                if use_wrk:
                    rps, p50, tail, errors = wrk_load(url, path, clients, 15)
                    label = "p99"
                else:
                    n = requests if path == "/v1/retrieve" else max(20, requests // 3)
                    rps, ms, errors = load(url, path, clients, max(n, clients))
                    p50, tail, label = pct(ms, 50), pct(ms, 95), "p95"
                base = base or rps
                rows.append(f"{path:<13} {clients:>2} clients  {rps:7.1f} req/s ({rps / base:4.2f}x)  p50 {p50:7.0f} ms  "
                            f"{label} {tail:7.0f} ms  errors {errors}")
                print(rows[-1], flush=True)
        rows.append(f"serve peak RSS             {rss_mb(proc.pid)[1]:.0f} MB")
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="10000,50000,200000", help="synthetic collection sizes (comma-separated; '' for none)")
    parser.add_argument("--queries", type=int, default=30, help="warm queries per engine and size")
    parser.add_argument("--local-max", type=int, default=10000, help="largest size local mode is measured at")
    parser.add_argument("--requests", type=int, default=120, help="HTTP requests per concurrency level")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]

    print(f"load average at start: {' '.join(f'{x:.1f}' for x in os.getloadavg())} on {os.cpu_count()} cores", flush=True)
    print("ingest (full / unchanged):", flush=True)
    lines = []
    for kind in ("edge", "local"):
        full, again, chunks = ingest_times(kind)
        lines.append(f"ingest {kind:<6} {chunks} chunks   full {full:5.1f} s   unchanged {again:5.2f} s")
        print(lines[-1], flush=True)

    print("\nwarm retrieval, ms p50 / p95 (embed + tokenise the question, then the query: filter, 2 dense, sparse x2, RRF):", flush=True)
    print(f"{'points':>9}  {'Qdrant Edge (shipped)':>21}  {'local mode (before)':>21}  {'numpy brute force':>21}", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        with Advisor(load_settings(data_dir=Path(tmp))) as advisor:
            retrieval = retrieval_table(advisor, sizes, args.queries, args.local_max)
            advisor.ingest()
        cold = []
        env = dict(os.environ, ADVISOR_DATA_DIR=tmp)
        subprocess.run([ADVISOR, "ask", QUERIES[0], "--json"], env=env, check=True, capture_output=True)  # fills the caches
        for question in QUERIES[:4]:
            t = time.perf_counter()
            subprocess.run([ADVISOR, "ask", question, "--json"], env=env, check=True, capture_output=True)
            cold.append(time.perf_counter() - t)
        print(f"\ncold `advisor ask`          median {statistics.median(cold):.2f} s, max {max(cold):.2f} s (4 questions, new process each)", flush=True)
        print("\nHTTP (advisor serve --no-ui, embedded Edge store, offline answers):", flush=True)
        http = http_table(Path(tmp), args.requests)
    print("\n" + "\n".join(lines))
    print("\n".join(retrieval))
    print(f"cold `advisor ask`          median {statistics.median(cold):.2f} s")
    print("\n".join(http))


if __name__ == "__main__":
    main()
