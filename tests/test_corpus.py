"""The corpus is valid, complete for the spine's instruments, and the checker names file and article."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from advisor.corpus import check_corpus, load_corpus, to_chinese_numeral
from advisor.errors import CorpusError
from conftest import ADVISOR, CORPUS, cli_env

MINI = Path(__file__).parent / "fixtures" / "mini"


def test_the_shipped_corpus_has_no_problems():
    corpus, problems = check_corpus(CORPUS)
    assert problems == []
    assert len(corpus) >= 11


@pytest.mark.parametrize("instrument_id, articles", [
    ("gai-interim-measures-2023", 24),
    ("deep-synthesis-provisions-2022", 25),
    ("algorithm-recommendation-provisions-2021", 35),
    ("pipl-2021", 74),
    ("dsl-2021", 55),
    ("csl-2016", 79),
    ("csl-2025", 81),
    ("network-data-security-regulations-2024", 64),
    ("minors-online-protection-regulations-2023", 60),
    ("cii-regulations-2021", 51),
    ("cybersecurity-review-measures-2021", 23),
])
def test_instrument_is_complete_with_a_translation_of_every_article(instrument_id, articles):
    inst = load_corpus(CORPUS).instruments[instrument_id]
    assert [a.number for a in inst.articles] == list(range(1, articles + 1))
    assert all(a.zh.strip() and a.en.strip() for a in inst.articles)
    assert "unofficial" in inst.translation.lower()


def _copy_mini(tmp_path: Path) -> Path:
    target = tmp_path / "corpus"
    shutil.copytree(MINI, target)
    return target


def _edit(path: Path, change) -> None:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")


def test_a_gap_in_article_numbers_names_file_and_article(tmp_path):
    corpus = _copy_mini(tmp_path)
    _edit(corpus / "instruments" / "mini-gai.yaml", lambda d: d["articles"].pop(1))
    _, problems = check_corpus(corpus)
    assert any(p.file == "mini-gai.yaml" and p.article == 3 for p in problems), problems


def test_an_empty_translation_names_file_and_article(tmp_path):
    corpus = _copy_mini(tmp_path)
    _edit(corpus / "instruments" / "mini-pipl.yaml", lambda d: d["articles"][2].update(en="  "))
    _, problems = check_corpus(corpus)
    assert [(p.file, p.article) for p in problems] == [("mini-pipl.yaml", 3)]
    assert "empty" in problems[0].message


def test_an_unparseable_date_is_reported(tmp_path):
    corpus = _copy_mini(tmp_path)
    _edit(corpus / "instruments" / "mini-pipl.yaml", lambda d: d.update(effective="2021-13-45"))
    _, problems = check_corpus(corpus)
    assert problems and problems[0].file == "mini-pipl.yaml" and "effective" in problems[0].message


def test_duplicate_ids_are_reported(tmp_path):
    corpus = _copy_mini(tmp_path)
    shutil.copy(corpus / "instruments" / "mini-gai.yaml", corpus / "instruments" / "mini-gai-copy.yaml")
    _, problems = check_corpus(corpus)
    messages = " ".join(str(p) for p in problems)
    assert "duplicate id 'mini-gai'" in messages


def test_malformed_yaml_names_the_file_and_line(tmp_path):
    corpus = _copy_mini(tmp_path)
    (corpus / "instruments" / "broken.yaml").write_text("id: broken\narticles: [\n  - number: 1\n", encoding="utf-8")
    _, problems = check_corpus(corpus)
    assert any(p.file == "broken.yaml" and "not valid YAML" in p.message and "line" in p.message for p in problems)


def test_a_reference_to_a_missing_article_is_reported(tmp_path):
    corpus = _copy_mini(tmp_path)
    _edit(corpus / "instruments" / "mini-gai.yaml", lambda d: d["articles"][0].update(refs=[{"instrument": "mini-pipl", "article": 99}]))
    _, problems = check_corpus(corpus)
    assert [(p.file, p.article) for p in problems] == [("mini-gai.yaml", 1)]


def test_loading_a_broken_corpus_raises_with_every_problem(tmp_path):
    corpus = _copy_mini(tmp_path)
    _edit(corpus / "instruments" / "mini-pipl.yaml", lambda d: d["articles"][0].update(zh=""))
    with pytest.raises(CorpusError) as info:
        load_corpus(corpus)
    assert "mini-pipl.yaml, article 1" in str(info.value)


def test_cli_corpus_check_fails_with_file_and_article(tmp_path):
    corpus = _copy_mini(tmp_path)
    _edit(corpus / "instruments" / "mini-gai.yaml", lambda d: d["articles"][3].update(zh=""))
    run = subprocess.run([ADVISOR, "corpus", "check"], capture_output=True, text=True, env=cli_env(tmp_path, corpus))
    assert run.returncode == 1
    assert "mini-gai.yaml, article 4" in run.stderr
    assert "Traceback" not in run.stderr


def test_cli_corpus_check_passes_on_the_shipped_corpus(tmp_path):
    run = subprocess.run([ADVISOR, "corpus", "check"], capture_output=True, text=True, env=cli_env(tmp_path))
    assert run.returncode == 0, run.stderr
    assert "corpus OK" in run.stdout


@pytest.mark.parametrize("n, numeral", [(1, "一"), (10, "十"), (12, "十二"), (40, "四十"), (74, "七十四"), (101, "一百零一")])
def test_article_headings_use_chinese_numerals(n, numeral):
    assert to_chinese_numeral(n) == numeral


def _annotate(corpus: Path, instrument: str, notes: list[dict]) -> None:
    (corpus / "annotations").mkdir(exist_ok=True)
    (corpus / "annotations" / f"{instrument}.yaml").write_text(
        yaml.safe_dump({"instrument": instrument, "articles": notes}, allow_unicode=True), encoding="utf-8")


def _note(number: int, **extra) -> dict:
    return {"number": number, "role": "duty", "gist_en": "Providers must label generated images.",
            "gist_zh": "提供者应当对生成图片进行标识。", **extra}


def test_annotations_are_loaded_by_article(tmp_path):
    corpus = _copy_mini(tmp_path)
    inst = yaml.safe_load((corpus / "instruments" / "mini-gai.yaml").read_text(encoding="utf-8"))["id"]
    _annotate(corpus, inst, [_note(1, role="scope")])
    loaded, problems = check_corpus(corpus)
    assert problems == []
    assert loaded.annotations.role(inst, 1) == "scope"
    assert loaded.annotations.get(inst, 2) is None


def test_an_annotation_of_a_missing_article_names_file_and_article(tmp_path):
    corpus = _copy_mini(tmp_path)
    inst = yaml.safe_load((corpus / "instruments" / "mini-gai.yaml").read_text(encoding="utf-8"))["id"]
    _annotate(corpus, inst, [_note(999)])
    _, problems = check_corpus(corpus)
    assert [(p.file, p.article) for p in problems] == [(f"annotations/{inst}.yaml", 999)]


def test_an_annotation_with_an_unknown_role_is_a_problem(tmp_path):
    corpus = _copy_mini(tmp_path)
    inst = yaml.safe_load((corpus / "instruments" / "mini-gai.yaml").read_text(encoding="utf-8"))["id"]
    _annotate(corpus, inst, [_note(1, role="obligation")])
    _, problems = check_corpus(corpus)
    assert len(problems) == 1 and "role" in problems[0].message and problems[0].article == 1
