"""BM25-style sparse vectors: jieba tokens of Chinese, stemmed words of English.

Documents carry BM25's saturated term frequency; Qdrant's IDF modifier supplies the IDF at query
time, so a chunk's vector depends only on its own text (the average length is a fixed constant),
which keeps ingestion incremental. Queries carry one unit weight per distinct token.
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading
from collections import Counter
from functools import lru_cache

import snowballstemmer

VERSION = "bm25-jieba-v1"  # bump when tokenisation changes: every point is re-made
K1 = 1.2
B = 0.75
AVG_DOC_TOKENS = 160.0  # measured on the corpus (zh + en tokens per article), fixed on purpose

# Terms of art that jieba would otherwise cut apart; kept whole (search mode still adds the parts).
_TERMS = [
    "生成式人工智能", "深度合成", "算法推荐", "个人信息处理者", "敏感个人信息", "个人信息保护影响评估",
    "数据出境", "安全评估", "标准合同", "个人信息保护认证", "关键信息基础设施", "重要数据", "网信部门",
    "显式标识", "隐式标识", "生成合成内容", "舆论属性", "社会动员能力", "未成年人", "人脸识别",
    "网络运营者", "网络数据处理者", "算法备案", "科技伦理", "拟人化互动",
]
_jieba = None
_jieba_lock = threading.Lock()


def _segmenter():
    """jieba with our terms added, loaded on first use (its dictionary takes a fraction of a second
    to load, so text without Chinese characters never loads it)."""
    global _jieba
    if _jieba is None:
        with _jieba_lock:
            if _jieba is None:
                import jieba

                jieba.setLogLevel(logging.WARNING)
                for term in _TERMS:
                    jieba.add_word(term, freq=200000)
                _jieba = jieba
    return _jieba

_ZH_STOP = set("的 了 和 与 及 或 或者 等 在 对 为 并 将 由 其 之 以 于 被 把 是 有 中 上 下 这 那 该 本 应 应当 可以 不得 依照 按照 根据 有关 相关 规定 进行 一 二 三 四 五 六 七 八 九 十".split())
_EN_STOP = set(
    "a an the of to in on for and or by with as at be is are was were been this that these those it its "
    "from which who whom shall may must not no any all such other than into under per their them they "
    "what how do does i we you our your if when where can there".split()
)
_CJK = re.compile(r"[\u4e00-\u9fff]")
_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
_stemmer = snowballstemmer.stemmer("english")


def token_id(token: str) -> int:
    """A stable 31-bit index for a token (same in every process and version)."""
    return int.from_bytes(hashlib.blake2b(token.encode("utf-8"), digest_size=4).digest(), "big") & 0x7FFFFFFF


def zh_tokens(text: str) -> list[str]:
    if not _CJK.search(text):  # jieba keeps only tokens with Chinese characters: there are none
        return []
    return [t for t in _segmenter().cut_for_search(text) if _CJK.search(t) and t not in _ZH_STOP]


@lru_cache(maxsize=50000)
def _stem(word: str) -> str:
    return _stemmer.stemWord(word)


def en_tokens(text: str) -> list[str]:
    return [_stem(w) for w in _WORD.findall(text.lower()) if w not in _EN_STOP]


def tokens(text: str) -> list[str]:
    """Tokens of mixed Chinese/English text."""
    return zh_tokens(text) + en_tokens(text)


def _merge(counts: Counter) -> tuple[list[int], list[float], Counter]:
    merged: Counter = Counter()
    for tok, n in counts.items():
        merged[token_id(tok)] += n
    return sorted(merged), [], merged


def document_vector(text: str) -> tuple[list[int], list[float]]:
    """BM25 term-frequency weights of a document's tokens."""
    counts = Counter(tokens(text))
    length = sum(counts.values()) or 1
    indices, _, merged = _merge(counts)
    norm = K1 * (1 - B + B * length / AVG_DOC_TOKENS)
    values = [merged[i] * (K1 + 1) / (merged[i] + norm) for i in indices]
    return indices, values


def query_vector(text: str, extra: str = "", extra_weight: float = 0.5) -> tuple[list[int], list[float]]:
    """One unit weight per distinct query token; tokens only in `extra` (an expansion of the question) get
    `extra_weight`."""
    own = set(tokens(text))
    added = set(tokens(extra)) - own if extra else set()
    weights: dict[int, float] = {}
    for tok in added:
        weights[token_id(tok)] = max(weights.get(token_id(tok), 0.0), extra_weight)
    for tok in own:
        weights[token_id(tok)] = 1.0
    indices = sorted(weights)
    return indices, [weights[i] for i in indices]
