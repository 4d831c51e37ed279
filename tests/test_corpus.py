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
    ("ai-content-labelling-measures-2025", 14),
    ("cybersecurity-incident-reporting-measures-2025", 14),
    ("cross-border-data-flow-provisions-2024", 14),
    ("data-export-security-assessment-measures-2022", 20),
    ("pi-export-certification-measures-2025", 19),
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


# ---- incomplete instruments, displaced articles, annexes, reported metadata ----------------------

def _drop_article(number: int, **fields):
    """An edit that removes one article of mini-gai (4 articles) and sets instrument fields."""
    def change(d):
        d["articles"] = [a for a in d["articles"] if a["number"] != number]
        d.update(fields)
    return change


PARTIAL = dict(coverage="partial", total_articles=4, missing_articles=[3], missing_note="Art. 3 was not found in any copy.")


def test_a_partial_instrument_may_lack_exactly_its_missing_articles(tmp_path):
    corpus = _copy_mini(tmp_path)
    _edit(corpus / "instruments" / "mini-gai.yaml", _drop_article(3, **PARTIAL))
    loaded, problems = check_corpus(corpus)
    assert problems == []
    inst = loaded.instruments["mini-gai"]
    assert inst.article(3) is None and inst.article(4) is not None
    assert inst.missing_summary() == "Art. 3 is not in the corpus (3 of 4 articles held)"


def test_a_gap_not_listed_as_missing_names_the_article(tmp_path):
    corpus = _copy_mini(tmp_path)
    _edit(corpus / "instruments" / "mini-gai.yaml", _drop_article(3, **{**PARTIAL, "missing_articles": [2]}))
    _, problems = check_corpus(corpus)
    assert {(p.file, p.article) for p in problems} == {("mini-gai.yaml", 2), ("mini-gai.yaml", 3)}, problems
    assert any("neither held nor listed" in p.message for p in problems if p.article == 3)


def test_held_plus_missing_must_cover_the_known_total(tmp_path):
    corpus = _copy_mini(tmp_path)
    _edit(corpus / "instruments" / "mini-gai.yaml", _drop_article(3, **{**PARTIAL, "total_articles": 5}))
    _, problems = check_corpus(corpus)
    assert [(p.file, p.article) for p in problems] == [("mini-gai.yaml", 5)]


def test_an_incomplete_instrument_needs_a_missing_note(tmp_path):
    corpus = _copy_mini(tmp_path)
    _edit(corpus / "instruments" / "mini-gai.yaml", _drop_article(3, **{**PARTIAL, "missing_note": None}))
    _, problems = check_corpus(corpus)
    assert len(problems) == 1 and problems[0].file == "mini-gai.yaml" and "missing_note" in problems[0].message


def test_partial_coverage_needs_the_total(tmp_path):
    corpus = _copy_mini(tmp_path)
    _edit(corpus / "instruments" / "mini-gai.yaml", _drop_article(3, **{**PARTIAL, "total_articles": None}))
    _, problems = check_corpus(corpus)
    assert len(problems) == 1 and "total_articles" in problems[0].message


def test_fragments_with_an_unknown_total_list_exactly_the_gaps_below_the_last_article_held(tmp_path):
    corpus = _copy_mini(tmp_path)
    fragments = dict(coverage="fragments", total_articles=None, missing_articles=[3], missing_note="Only some articles were found.")
    _edit(corpus / "instruments" / "mini-gai.yaml", _drop_article(3, **fragments))
    loaded, problems = check_corpus(corpus)
    assert problems == []
    assert loaded.instruments["mini-gai"].missing_summary() == (
        "only Arts. 1, 2, 4 are in the corpus; the total number of articles is unconfirmed")
    _edit(corpus / "instruments" / "mini-gai.yaml", lambda d: d.update(missing_articles=[3, 9]))
    _, problems = check_corpus(corpus)
    assert [(p.file, p.article) for p in problems] == [("mini-gai.yaml", 9)]


def test_a_complete_instrument_cannot_list_missing_articles(tmp_path):
    corpus = _copy_mini(tmp_path)
    _edit(corpus / "instruments" / "mini-gai.yaml", lambda d: d.update(missing_articles=[5]))
    _, problems = check_corpus(corpus)
    assert len(problems) == 1 and "missing_articles" in problems[0].message


def test_metadata_coverage_is_only_for_entries_without_text(tmp_path):
    corpus = _copy_mini(tmp_path)
    _edit(corpus / "instruments" / "mini-gai.yaml", lambda d: d.update(coverage="metadata", missing_note="x"))
    _, problems = check_corpus(corpus)
    assert len(problems) == 1 and "metadata" in problems[0].message


def test_an_unverified_article_must_be_held(tmp_path):
    corpus = _copy_mini(tmp_path)
    _edit(corpus / "instruments" / "mini-gai.yaml", _drop_article(
        3, **PARTIAL, verification={"status": "partial", "method": "one copy", "unverified_articles": [3]}))
    _, problems = check_corpus(corpus)
    assert [(p.file, p.article) for p in problems] == [("mini-gai.yaml", 3)]
    assert "not held" in problems[0].message


def _displace(target: dict):
    def change(d):
        d["articles"][1]["displaced_by"] = [{**target, "note_en": "the threshold", "note_zh": "门槛"}]
    return change


def test_a_displaced_article_names_its_controlling_article(tmp_path):
    corpus = _copy_mini(tmp_path)
    _edit(corpus / "instruments" / "mini-gai.yaml", _displace({"instrument": "mini-pipl", "article": 2}))
    loaded, problems = check_corpus(corpus)
    assert problems == []
    moved = loaded.instruments["mini-gai"].article(2).displaced_by[0]
    assert (moved.instrument, moved.article, moved.note_en) == ("mini-pipl", 2, "the threshold")


@pytest.mark.parametrize("target, needle", [
    ({"instrument": "mini-pipl", "article": 99}, "no article 99"),
    ({"instrument": "no-such-law", "article": 1}, "unknown instrument"),
    ({"instrument": "mini-gai", "article": 2}, "itself"),
])
def test_a_displacement_to_a_missing_target_names_file_and_article(tmp_path, target, needle):
    corpus = _copy_mini(tmp_path)
    _edit(corpus / "instruments" / "mini-gai.yaml", _displace(target))
    _, problems = check_corpus(corpus)
    assert [(p.file, p.article) for p in problems] == [("mini-gai.yaml", 2)]
    assert needle in problems[0].message


def _annex(corpus: Path, **fields) -> None:
    data = yaml.safe_load((corpus / "instruments" / "mini-gai.yaml").read_text(encoding="utf-8"))
    first = data["articles"][0]
    data.update(id="mini-annex", title_zh="分级指南", short_en="Grading Guide", annex_of="mini-gai",
                articles=[{**first, "heading": "一、特别重大事件", "heading_en": "Part 1"}])
    data.update(fields)
    (corpus / "instruments" / "mini-annex.yaml").write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")


def test_an_annex_part_is_cited_by_its_heading_never_as_an_article(tmp_path):
    corpus = _copy_mini(tmp_path)
    _annex(corpus)
    loaded, problems = check_corpus(corpus)
    assert problems == []
    part = loaded.instruments["mini-annex"].article(1)
    assert (part.heading_zh, part.label_en, part.name_en) == ("一、特别重大事件", "Part 1", "Part 1")
    assert loaded.valid_to(loaded.instruments["mini-annex"]) == loaded.valid_to(loaded.instruments["mini-gai"])


def test_an_annex_of_an_unknown_instrument_is_reported(tmp_path):
    corpus = _copy_mini(tmp_path)
    _annex(corpus, annex_of="no-such-law")
    _, problems = check_corpus(corpus)
    assert [(p.file, p.article) for p in problems] == [("mini-annex.yaml", None)] and "annex_of" in problems[0].message


def test_an_annex_applies_with_its_instrument(tmp_path):
    corpus = _copy_mini(tmp_path)
    _annex(corpus, effective="2024-01-01")
    _, problems = check_corpus(corpus)
    assert [(p.file, p.article) for p in problems] == [("mini-annex.yaml", None)] and "effective" in problems[0].message


def test_a_heading_needs_its_english_label(tmp_path):
    corpus = _copy_mini(tmp_path)
    _edit(corpus / "instruments" / "mini-gai.yaml", lambda d: d["articles"][0].update(heading="一、总则"))
    _, problems = check_corpus(corpus)
    assert [(p.file, p.article) for p in problems] == [("mini-gai.yaml", 1)] and "heading_en" in problems[0].message


def test_reported_metadata_needs_a_note_and_may_lack_the_official_page(tmp_path):
    corpus = _copy_mini(tmp_path)
    _edit(corpus / "instruments" / "mini-gai.yaml", lambda d: d.update(metadata_verified=False, source_url=None, promulgated=None))
    _, problems = check_corpus(corpus)
    assert len(problems) == 1 and "metadata_note" in problems[0].message
    _edit(corpus / "instruments" / "mini-gai.yaml", lambda d: d.update(metadata_note="Dates from a press report."))
    assert check_corpus(corpus)[1] == []


def test_verified_metadata_needs_the_official_page(tmp_path):
    corpus = _copy_mini(tmp_path)
    _edit(corpus / "instruments" / "mini-gai.yaml", lambda d: d.update(source_url=None))
    _, problems = check_corpus(corpus)
    assert len(problems) == 1 and "source_url" in problems[0].message


def test_the_2016_cybersecurity_law_is_amended_and_ends_when_the_amendment_applies():
    import datetime as dt

    corpus = load_corpus(CORPUS)
    old = corpus.instruments["csl-2016"]
    assert old.status.value == "amended" and old.superseded_by == "csl-2025"
    assert corpus.valid_to(old) == dt.date(2026, 1, 1)


def test_amended_needs_the_version_that_replaced_it(tmp_path):
    corpus = _copy_mini(tmp_path)
    _edit(corpus / "instruments" / "mini-gai.yaml", lambda d: d.update(status="amended"))
    _, problems = check_corpus(corpus)
    assert len(problems) == 1 and "superseded_by" in problems[0].message


@pytest.mark.parametrize("numbers, text", [([9, 10, 11, 12], "Arts. 9-12"), ([2, 18, 32], "Arts. 2, 18, 32"), ([4], "Art. 4"),
                                           ([1, 2, 3, 6], "Arts. 1-3, 6"), ([4, 5], "Arts. 4, 5")])
def test_article_lists_are_compact(numbers, text):
    from advisor.corpus.schema import article_list

    assert article_list(numbers) == text


@pytest.mark.parametrize("instrument_id, coverage, held, missing", [
    ("pi-export-standard-contract-measures-2023", "partial", [1, 2, 3, 4, 5, 6, 7, 8, 13], [9, 10, 11, 12]),
    ("anthropomorphic-interaction-measures-2026", "fragments", [2, 18, 32], [n for n in range(1, 33) if n not in (2, 18, 32)]),
    ("facial-recognition-measures-2025", "fragments", [1, 2, 3, 4], []),
    ("public-opinion-security-assessment-provisions-2018", "fragments", [1, 2, 3, 6], [4, 5]),
    ("sci-tech-ethics-review-measures-2023", "fragments", [1], []),
])
def test_shipped_incomplete_instruments_say_what_is_missing(instrument_id, coverage, held, missing):
    inst = load_corpus(CORPUS).instruments[instrument_id]
    assert inst.coverage.value == coverage
    assert [a.number for a in inst.articles] == held and inst.missing_articles == missing
    assert inst.missing_note and inst.missing_summary()


def test_shipped_metadata_entries_are_marked_as_reported():
    corpus = load_corpus(CORPUS)
    entries = [i for i in corpus if i.coverage.value == "metadata"]
    assert {"pi-compliance-audit-measures-2025", "network-data-risk-assessment-measures-2026",
            "small-pi-handler-simplified-measures-2026", "minors-harmful-information-classification-measures-2025",
            "micro-drama-measures-2026", "ai-ethics-review-service-measures-2026",
            "minors-online-safety-provisions-draft-2026"} <= {i.id for i in entries}
    for inst in entries:
        assert not inst.articles and inst.summary_en and inst.missing_note
        assert not inst.metadata_verified and inst.metadata_note
