"""A half-built, damaged or outdated index is never served as complete (the completion marker).

The user's cases run the real `advisor` command in a subprocess; the marker's logic runs against
both store backends (Qdrant Edge, and qdrant-client local mode standing in for a server).
"""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import httpx
import pytest
import yaml

from advisor import Advisor
from advisor.store import open_store
from advisor.settings import DEFAULT_EMBEDDER
from conftest import ADVISOR, CORPUS, cli_env, make_settings

MINI = Path(__file__).parent / "fixtures" / "mini"
QUESTION = "Who must store personal information inside China?"


def run(args, env, **kw):
    return subprocess.run([ADVISOR, *args], capture_output=True, text=True, env=env, timeout=600, **kw)


def _one_line_error(result, *expected):
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1, result.stderr
    for text in expected:
        assert text in result.stderr, result.stderr


def _edit_an_article(corpus_dir: Path, instrument: str) -> None:
    path = corpus_dir / "instruments" / f"{instrument}.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["articles"][0]["en"] += " (revised translation)"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")


# ---- as a user meets them: the real CLI -------------------------------------------------------------

def test_an_ingest_killed_part_way_is_refused_then_finished_by_the_next_ingest(tmp_path):
    env = cli_env(tmp_path / "data", ADVISOR_EMBED_BATCH="16", ADVISOR_LOOKUPS="[]")  # the articles alone: enough to kill it part-way
    proc = subprocess.Popen([ADVISOR, "ingest"], env=env, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    try:
        for line in proc.stderr:  # one line per embedded batch when stderr is not a terminal
            if line.startswith("embedded 64/"):
                proc.send_signal(signal.SIGKILL)
                break
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    _one_line_error(run(["ask", QUESTION], env), "incomplete", "run `advisor ingest`")
    _one_line_error(run(["retrieve", QUESTION], env), "incomplete")
    resumed = run(["ingest"], env)
    assert resumed.returncode == 0, resumed.stderr
    embedded = int(resumed.stdout.split("(")[1].split(" embedded")[0])
    chunks = int(resumed.stdout.split(" chunks (")[0].rsplit(" ", 1)[1])
    assert 0 < embedded <= chunks - 64  # the chunks written before the kill are kept
    assert run(["ask", QUESTION, "--json"], env).returncode == 0


def test_a_deleted_collection_is_refused(store_copy):
    shutil.rmtree(store_copy / "qdrant" / "edge" / f"regulations__{DEFAULT_EMBEDDER}")
    _one_line_error(run(["ask", QUESTION], cli_env(store_copy)), "no index", "run `advisor ingest`")


def test_a_truncated_collection_is_refused(store_copy):
    with open_store(make_settings(store_copy), DEFAULT_EMBEDDER) as store:
        store.delete(sorted(store.fingerprints())[:10])
    _one_line_error(run(["ask", QUESTION], cli_env(store_copy)), "holds", "but its ingest wrote", "run `advisor ingest`")


def test_a_corpus_changed_after_ingest_is_refused_until_ingested_again(store_copy, tmp_path):
    corpus = tmp_path / "corpus"
    shutil.copytree(CORPUS, corpus)
    _edit_an_article(corpus, "pipl-2021")
    env = cli_env(store_copy, corpus)
    _one_line_error(run(["ask", QUESTION], env), "different corpus", "run `advisor ingest`")
    again = run(["ingest"], env)
    assert again.returncode == 0 and "(1 embedded," in again.stdout, again.stdout + again.stderr
    assert run(["retrieve", QUESTION, "--json"], env).returncode == 0


def test_a_store_path_that_is_a_file_is_a_clear_error(tmp_path):
    path = tmp_path / "store-file"
    path.write_text("x")
    for command in (["ask", QUESTION], ["ingest"]):
        _one_line_error(run(command, cli_env(tmp_path / "data", ADVISOR_QDRANT_PATH=str(path))), "is a file, not a folder")


def test_an_old_local_mode_store_is_named_and_rebuilt_by_ingest(tmp_path):
    corpus = tmp_path / "corpus"
    shutil.copytree(MINI, corpus)
    with Advisor(make_settings(tmp_path / "data", corpus, store="local")) as old:
        old.ingest()
    env = cli_env(tmp_path / "data", corpus)
    _one_line_error(run(["ask", "个人信息"], env), "old format", "run `advisor ingest`")
    rebuilt = run(["ingest"], env)
    assert rebuilt.returncode == 0 and "(7 embedded," in rebuilt.stdout, rebuilt.stderr
    assert not (tmp_path / "data" / "qdrant" / "meta.json").exists()
    assert run(["retrieve", "个人信息", "--json"], env).returncode == 0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_serve_reingests_a_stale_index_and_healthz_reports_it(store_copy, tmp_path):
    corpus = tmp_path / "corpus"
    shutil.copytree(CORPUS, corpus)
    _edit_an_article(corpus, "dsl-2021")
    port = _free_port()
    proc = subprocess.Popen([ADVISOR, "serve", "--no-ui", "--port", str(port)], env=cli_env(store_copy, corpus),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline, health = time.time() + 300, None
        while time.time() < deadline and proc.poll() is None:
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5)
                break
            except httpx.TransportError:
                time.sleep(0.5)
        assert health is not None, proc.stdout.read() if proc.poll() is not None else "serve did not start"
        assert health.status_code == 200 and health.json()["index"]["state"] == "complete"
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            out, _ = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, _ = proc.communicate()
    assert "index stale: ingesting" in out and "(1 embedded," in out


# ---- the marker's logic, on both backends -----------------------------------------------------------

@pytest.fixture(params=["edge", "local"])
def mini(request, tmp_path):
    corpus = tmp_path / "corpus"
    shutil.copytree(MINI, corpus)
    settings = make_settings(tmp_path / "data", corpus, store=request.param)
    with Advisor(settings) as advisor:
        advisor.ingest()
    return settings


def test_a_finished_ingest_is_complete(mini):
    with Advisor(mini) as advisor:
        state = advisor.index_state()
        assert state.state == "complete" and state.chunks == state.expected == 7
        assert advisor.retrieve("个人信息", k=2)


def test_without_the_marker_the_index_is_partial_and_refused(mini):
    with Advisor(mini) as advisor:
        advisor.store.clear_marker()
        assert advisor.index_state().state == "partial"
        with pytest.raises(Exception, match="incomplete"):
            advisor.retrieve("个人信息")


def test_lost_points_make_the_index_partial(mini):
    with Advisor(mini) as advisor:
        advisor.store.delete(sorted(advisor.store.fingerprints())[:1])
        state = advisor.index_state()
        assert state.state == "partial" and state.chunks == 6 and "ingest wrote 7" in state.message


def test_a_changed_corpus_makes_the_index_stale_until_ingested(mini):
    path = Path(mini.corpus_dir) / "instruments" / "mini-pipl.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["source_url"] = "https://example.gov.cn/changed"  # a payload-only change counts too
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    with Advisor(mini) as advisor:
        assert advisor.index_state().state == "stale"
        report = advisor.ingest()
        assert (report.embedded, report.payload_updated) == (0, 3)
        assert advisor.index_state().state == "complete"


def test_an_unchanged_ingest_writes_nothing(mini):
    with Advisor(mini) as advisor:
        before = advisor.store.read_marker()
        advisor.ingest()
        assert advisor.store.read_marker().written == before.written


def test_healthz_is_503_when_the_index_is_partial(mini):
    from advisor.present.http import create_app
    from support.server import ServerThread

    with Advisor(mini) as advisor:
        advisor.store.clear_marker()
        with ServerThread(create_app(advisor)) as server:
            reply = httpx.get(server.url + "/healthz", timeout=60)
    assert reply.status_code == 503
    assert reply.json()["index"]["state"] == "partial" and "advisor ingest" in reply.json()["index"]["message"]
