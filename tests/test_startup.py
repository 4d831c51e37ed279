"""Fast start: caches keyed by what they were made from, and nothing heavy imported on the `ask` path."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import numpy as np
import yaml

from advisor.corpus import load_corpus
from advisor.providers.embedders import UseM3Embedder
from conftest import CORPUS, cli_env
from test_ingest import _mini


def test_the_parsed_corpus_is_cached_and_reread_when_a_file_changes(tmp_path):
    corpus_dir, cache = _mini(tmp_path), tmp_path / "cache"
    first = load_corpus(corpus_dir, cache)
    assert len(list(cache.glob("corpus-*.pickle"))) == 1
    assert load_corpus(corpus_dir, cache).instruments.keys() == first.instruments.keys()
    path = corpus_dir / "instruments" / "mini-pipl.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["source_url"] = "https://example.gov.cn/changed"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    assert load_corpus(corpus_dir, cache).instruments["mini-pipl"].source_url == "https://example.gov.cn/changed"
    assert len(list(cache.glob("corpus-*.pickle"))) == 1  # the old entry is replaced


def test_an_annotation_file_is_part_of_the_corpus_cache_key(tmp_path):
    from advisor.corpus.load import _cache_path

    corpus_dir = tmp_path / "corpus"
    shutil.copytree(CORPUS, corpus_dir, ignore=shutil.ignore_patterns("obligations"))
    before = _cache_path(corpus_dir, tmp_path)
    (corpus_dir / "annotations").mkdir(exist_ok=True)
    (corpus_dir / "annotations" / "new.yaml").write_text("{}\n")
    assert _cache_path(corpus_dir, tmp_path) != before


def test_a_damaged_corpus_cache_is_rebuilt(tmp_path):
    corpus_dir, cache = _mini(tmp_path), tmp_path / "cache"
    load_corpus(corpus_dir, cache)
    entry = next(cache.glob("corpus-*.pickle"))
    entry.write_bytes(b"not a pickle")
    assert "mini-pipl" in load_corpus(corpus_dir, cache).instruments


def test_the_unpacked_use_m3_weights_give_the_same_vectors(tmp_path):
    texts = ["个人信息出境需要安全评估", "Do AI-generated images need a label?"]
    packaged = UseM3Embedder(2).embed(texts)
    UseM3Embedder(2, tmp_path).embed(texts)  # unpacks
    cached = UseM3Embedder(2, tmp_path)
    assert np.allclose(cached.embed(texts), packaged, atol=1e-6)
    backend, single = cached._backends()
    assert isinstance(backend.table, np.memmap) and single.threads == 1
    assert np.allclose(cached.embed(texts[:1])[0], packaged[0], atol=1e-5)  # one text: one thread, same vector


def test_english_text_does_not_load_the_chinese_dictionary():
    code = ("import ingest.sparse as s; s.tokens('separate consent for sensitive personal information'); "
            "print(s._jieba is None); s.tokens('敏感个人信息'); print(s._jieba is None)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["True", "False"]


def test_ask_imports_no_web_framework_nor_qdrant_client(store_copy):
    code = (
        "import sys, json\n"
        "from advisor.present.cli import app\n"
        "try:\n"
        "    app(['ask', 'Do AI-generated images need a label?', '--json'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "heavy = ('gradio', 'fastapi', 'uvicorn', 'qdrant_client', 'torch', 'sentence_transformers')\n"
        "print(json.dumps(sorted(m for m in heavy if m in sys.modules)), file=sys.stderr)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=cli_env(store_copy), timeout=300)
    assert json.loads(result.stdout)["citations"], result.stderr
    assert json.loads(result.stderr.strip().splitlines()[-1]) == []
