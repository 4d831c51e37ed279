"""Load benchmark of the HTTP API; prints numbers (not a test).

    .venv/bin/python benchmarks/http_load.py [--clients 1,10,50] [--duration 20] [--path /v1/retrieve]
                                             [--data-dir DIR] [--url http://127.0.0.1:PORT] [--plot load.png]

Starts `advisor serve --no-ui` on a free 127.0.0.1 port in its own process (ingesting into DATA_DIR first if
it is empty; default: a temporary folder), unless --url names a running server. For each number of clients,
that many concurrent clients (httpx, one connection each) POST questions in a loop for --duration seconds,
while a separate probe GETs /healthz every 0.25 s. Prints, per level: requests completed, throughput,
p50/p95 latency of the successful ones, errors (503 busy with Retry-After, other statuses, transport
errors) and the /healthz latency (p50 / max).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

QUESTIONS = [
    "Do AI-generated images need a label?", "个人信息出境需要什么条件？", "algorithm filing deadline",
    "深度合成服务提供者的义务", "When must a security assessment be done?", "未成年人个人信息保护",
    "data localisation for critical information infrastructure", "网络安全审查 上市",
    "separate consent sensitive personal information", "生成式人工智能 训练数据 知识产权",
]


@dataclass
class Level:
    clients: int
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    busy: int = 0
    other: int = 0
    transport: int = 0
    health: list[float] = field(default_factory=list)

    def pct(self, values: list[float], q: float) -> float:
        if not values:
            return float("nan")
        ordered = sorted(values)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    def row(self) -> str:
        ok = len(self.latencies)
        errors = self.busy + self.other + self.transport
        return (f"{self.clients:>7}  {ok + errors:>8}  {ok / self.seconds:>8.2f}  {self.pct(self.latencies, 0.5) * 1000:>8.0f}"
                f"  {self.pct(self.latencies, 0.95) * 1000:>8.0f}  {errors:>6} ({self.busy} busy, {self.other} other, "
                f"{self.transport} transport)  {statistics.median(self.health) * 1000 if self.health else float('nan'):>6.1f}"
                f" / {max(self.health) * 1000 if self.health else float('nan'):.1f}")


def body_for(path: str, question: str) -> dict:
    if path == "/v1/retrieve":
        return {"question": question, "k": 10}
    if path == "/v1/chat/completions":
        return {"messages": [{"role": "user", "content": question}]}
    return {"question": question}


async def run_level(url: str, path: str, clients: int, duration: float, headers: dict) -> Level:
    level = Level(clients)
    end = time.monotonic() + duration
    limits = httpx.Limits(max_connections=clients + 1, max_keepalive_connections=clients + 1)

    async with httpx.AsyncClient(base_url=url, timeout=300, limits=limits, headers=headers) as http:
        async def client(n: int) -> None:
            i = n
            while time.monotonic() < end:
                question = QUESTIONS[i % len(QUESTIONS)]
                i += 1
                started = time.monotonic()
                try:
                    response = await http.post(path, json=body_for(path, question))
                except httpx.HTTPError:
                    level.transport += 1
                    await asyncio.sleep(0.5)
                    continue
                if response.status_code == 200:
                    level.latencies.append(time.monotonic() - started)
                elif response.status_code == 503:
                    level.busy += 1
                    await asyncio.sleep(min(float(response.headers.get("retry-after", "1")), 2.0))
                else:
                    level.other += 1

        async def probe() -> None:
            async with httpx.AsyncClient(base_url=url, timeout=120) as own:  # its own connection
                while time.monotonic() < end:
                    started = time.monotonic()
                    try:
                        await own.get("/healthz")
                        level.health.append(time.monotonic() - started)
                    except httpx.HTTPError:
                        pass
                    await asyncio.sleep(0.25)

        started = time.monotonic()
        await asyncio.gather(probe(), *(client(n) for n in range(clients)))
        level.seconds = time.monotonic() - started
    return level


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(data_dir: Path, extra_env: dict) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {**os.environ, "ADVISOR_DATA_DIR": str(data_dir), "HF_HUB_OFFLINE": "1", **extra_env}
    advisor = str(Path(sys.executable).parent / "advisor")
    proc = subprocess.Popen([advisor, "serve", "--no-ui", "--port", str(port)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 900  # a first ingest takes a while
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the server exited: {proc.stdout.read() if proc.stdout else ''}")
        try:
            if httpx.get(url + "/healthz", timeout=2).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    proc.terminate()
    raise SystemExit("the server did not start within 15 minutes")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", default="1,10,50", help="comma-separated client counts")
    parser.add_argument("--duration", type=float, default=20.0, help="seconds per level")
    parser.add_argument("--path", default="/v1/retrieve", choices=["/v1/retrieve", "/v1/ask", "/v1/chat/completions"])
    parser.add_argument("--data-dir", type=Path, help="the server's data folder (ingested first if empty)")
    parser.add_argument("--url", help="a running server instead of starting one")
    parser.add_argument("--token", default=os.environ.get("ADVISOR_API_TOKEN"), help="bearer token, if the server needs one")
    parser.add_argument("--plot", type=Path, help="also write a plot of latency and throughput per level")
    args = parser.parse_args()
    headers = {"Authorization": f"Bearer {args.token}"} if args.token else {}

    tmp = None
    proc = None
    url = args.url
    if url is None:
        data_dir = args.data_dir
        if data_dir is None:
            tmp = tempfile.TemporaryDirectory()
            data_dir = Path(tmp.name)
        print(f"starting `advisor serve --no-ui` on {data_dir} (ingests first if needed) ...", flush=True)
        proc, url = start_server(data_dir, {"ADVISOR_API_TOKEN": args.token} if args.token else {})
    try:
        httpx.post(url + args.path, json=body_for(args.path, QUESTIONS[0]), headers=headers, timeout=300)  # warm up
        print(f"{args.path} on {url}, {args.duration:g} s per level, {os.cpu_count()} CPU(s)\n")
        print(f"{'clients':>7}  {'requests':>8}  {'req/s':>8}  {'p50 ms':>8}  {'p95 ms':>8}  errors{'':<30}  healthz p50 / max ms")
        levels = []
        for clients in (int(c) for c in args.clients.split(",")):
            level = asyncio.run(run_level(url, args.path, clients, args.duration, headers))
            levels.append(level)
            print(level.row(), flush=True)
        if args.plot:
            plot(levels, args.plot, args.path)
            print(f"\nplot: {args.plot}")
    finally:
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
        if tmp is not None:
            tmp.cleanup()


def plot(levels: list[Level], path: Path, endpoint: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    xs = [lv.clients for lv in levels]
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    left.plot(xs, [lv.pct(lv.latencies, 0.5) * 1000 for lv in levels], "o-", label="p50")
    left.plot(xs, [lv.pct(lv.latencies, 0.95) * 1000 for lv in levels], "s-", label="p95")
    left.plot(xs, [max(lv.health) * 1000 if lv.health else 0 for lv in levels], "^-", label="/healthz max")
    left.set(xlabel="concurrent clients", ylabel="latency (ms)", title=f"{endpoint} latency")
    left.legend()
    right.bar([str(x) for x in xs], [len(lv.latencies) / lv.seconds for lv in levels])
    right.set(xlabel="concurrent clients", ylabel="requests/s", title="throughput (200s)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


if __name__ == "__main__":
    main()
