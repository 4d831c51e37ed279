"""Stage 1: the regulation texts, their schema, and which version applies when."""

from advisor.corpus.load import Corpus, Problem, check_corpus, load_corpus
from advisor.corpus.schema import Article, Instrument, Status, to_chinese_numeral

__all__ = ["Article", "Corpus", "Instrument", "Problem", "Status", "check_corpus", "load_corpus", "to_chinese_numeral"]
