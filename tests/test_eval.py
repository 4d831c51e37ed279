"""`advisor eval`: the gold file is validated line by line, metrics are exact, and a run writes its reports."""

from __future__ import annotations

import json
import math

import pytest
import typer
from typer.testing import CliRunner

from advisor.errors import AdvisorError
from advisor.present.cli_eval import eval_command
from conftest import CORPUS, make_settings
from evals.runner import (
    item_metrics,
    load_gold,
    ndcg_at,
    parse_retrievers,
    reciprocal_rank,
    recall_at,
    run_eval,
)

ITEMS = [
    {"id": "pipl-export-consent-en",
     "question": "Do individuals have to give separate consent before their personal information is provided outside China?",
     "lang": "en", "template": None, "variables": {},
     "gold": [{"regulation": "pipl-2021", "article": 39}],
     "key_points": ["separate consent"], "tags": ["cross_border"]},
    {"id": "gai-labels-zh",  # the regulation by its official Chinese title
     "question": "生成式人工智能服务提供者要不要给生成的图片视频加标识？",
     "lang": "zh", "template": None, "variables": {},
     "gold": [{"regulation": "生成式人工智能服务管理暂行办法", "article": 12}],
     "key_points": ["标识"], "tags": ["labeling"]},
    {"id": "csl-localisation-2025-zh",  # a short title, resolved to the version in force on as_of
     "question": "关键信息基础设施的运营者在境内收集的个人信息和重要数据应当在境内存储吗？",
     "lang": "zh", "template": None, "variables": {},
     "gold": [{"regulation": "网络安全法", "article": 37}],
     "key_points": ["应当在境内存储"], "tags": ["version", "cii"], "as_of": "2025-06-01"},
    {"id": "tpl-requirements-en", "question": "List what a face-swap app must do before launch in China.",
     "lang": "en", "template": "requirements", "variables": {"use_case": "face swap app", "industry": "entertainment"},
     "gold": [{"regulation": "deep-synthesis-provisions-2022", "article": 17},
              {"regulation": "deep-synthesis-provisions-2022", "article": 14}],
     "key_points": ["label"], "tags": ["template", "deep_synthesis"]},
]


def write_gold(path, items=ITEMS, extra_lines=()):
    lines = [json.dumps(i, ensure_ascii=False) for i in items] + list(extra_lines)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def gold_file(tmp_path):
    return write_gold(tmp_path / "gold.jsonl")


# ---- metrics --------------------------------------------------------------------------------------
G1, G2, X, Y, Z = ("law", 1), ("law", 2), ("law", 7), ("law", 8), ("other", 1)


def test_recall_at_k_is_the_share_of_gold_articles_in_the_top_k():
    ranking = [X, G1, Y, G2, Z]
    assert recall_at(ranking, [G1, G2], 1) == 0.0
    assert recall_at(ranking, [G1, G2], 3) == 0.5
    assert recall_at(ranking, [G1, G2], 5) == 1.0
    assert recall_at(ranking, [G1, G2], 10) == 1.0  # fewer than k retrieved: all of them count


def test_mrr_uses_the_rank_of_the_first_gold_hit_and_is_zero_without_one():
    assert reciprocal_rank([X, G1, G2], [G1, G2]) == 0.5
    assert reciprocal_rank([G2, X], [G1, G2]) == 1.0
    assert reciprocal_rank([X, Y, Z], [G1]) == 0.0


def test_ndcg_uses_binary_relevance_and_the_ideal_ranking_of_all_gold_articles():
    assert ndcg_at([G1, X], [G1]) == 1.0
    assert ndcg_at([X, G1, Y, G2], [G1, G2]) == pytest.approx((1 / math.log2(3) + 1 / math.log2(5)) / (1 + 1 / math.log2(3)))
    assert ndcg_at([X, Y], [G1]) == 0.0
    assert ndcg_at([X] * 10 + [G1], [G1], k=10) == 0.0  # only the top 10 count


def test_item_metrics_reports_every_metric_of_a_ranking():
    m = item_metrics([X, G1, Y, G2], [G1, G2])
    assert m == {"recall@1": 0.0, "recall@3": 0.5, "recall@5": 1.0, "recall@10": 1.0, "mrr": 0.5,
                 "ndcg@10": pytest.approx(ndcg_at([X, G1, Y, G2], [G1, G2]))}


# ---- the gold file -------------------------------------------------------------------------------
def test_gold_regulations_by_id_or_title_resolve_to_the_version_in_force_on_the_items_date(advisor, gold_file):
    items = load_gold(gold_file, advisor.corpus)
    assert [i.gold for i in items] == [
        (("pipl-2021", 39),),
        (("gai-interim-measures-2023", 12),),
        (("csl-2016", 37),),  # "网络安全法" on 2025-06-01 is the 2016 text
        (("deep-synthesis-provisions-2022", 17), ("deep-synthesis-provisions-2022", 14)),
    ]
    assert items[2].as_of.isoformat() == "2025-06-01" and items[0].as_of is None
    assert items[3].template == "requirements" and items[3].question.startswith("List what")


@pytest.mark.parametrize("bad_line, expected", [
    ('{"id": "broken", "question": ', "not valid JSON"),
    (json.dumps({**ITEMS[0], "id": "no-gold"}).replace('"gold"', '"gould"'), "missing field(s) gold"),
    (json.dumps({**ITEMS[0], "id": "unknown-law", "gold": [{"regulation": "no-such-law", "article": 1}]}),
     "unknown regulation 'no-such-law'"),
    (json.dumps({**ITEMS[0], "id": "missing-article", "gold": [{"regulation": "pipl-2021", "article": 999}]}),
     "pipl-2021 has no article 999"),
])
def test_a_bad_gold_line_is_one_clear_error_naming_its_line(advisor, tmp_path, bad_line, expected):
    path = write_gold(tmp_path / "gold.jsonl", ITEMS[:2], [bad_line])
    with pytest.raises(AdvisorError) as exc:
        load_gold(path, advisor.corpus)
    message = str(exc.value)
    assert "gold.jsonl line 3" in message and expected in message
    assert "\n" not in message


def test_duplicate_ids_and_unknown_retrievers_are_refused(advisor, tmp_path):
    path = write_gold(tmp_path / "gold.jsonl", [ITEMS[0], ITEMS[0]])
    with pytest.raises(AdvisorError, match="line 2: duplicate id"):
        load_gold(path, advisor.corpus)
    assert parse_retrievers("all") == ["hybrid", "dense", "sparse", "bm25s", "hybrid-minilm"]
    assert parse_retrievers("hybrid,bm25s") == ["hybrid", "bm25s"]
    with pytest.raises(AdvisorError, match="unknown retriever 'colbert'"):
        parse_retrievers("colbert")


# ---- runs ----------------------------------------------------------------------------------------
def test_a_hybrid_run_writes_report_json_markdown_and_a_chart(advisor, gold_file, tmp_path):
    out = tmp_path / "out"
    result = run_eval(advisor=advisor, gold_path=gold_file, retrievers="hybrid", out_dir=out, progress=False)

    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert report["retrievers"] == ["hybrid"] and report["k"] == 10
    assert set(report["totals"]["hybrid"]) == {"n", "recall@1", "recall@3", "recall@5", "recall@10", "mrr", "ndcg@10"}
    assert report["totals"]["hybrid"]["n"] == 4
    assert set(report["by_lang"]["hybrid"]) == {"en", "zh"}
    assert report["by_instrument"]["hybrid"]["csl-2016"]["n"] == 1
    item = {i["id"]: i for i in report["items"]}["csl-localisation-2025-zh"]
    assert item["gold"] == [{"regulation": "csl-2016", "article": 37}] and item["as_of"] == "2025-06-01"
    ranked = item["retrieved"]["hybrid"]
    assert ranked and {"regulation", "article", "score"} <= set(ranked[0])
    assert "csl-2025" not in {r["regulation"] for r in ranked}  # retrieved on the item's date
    assert item["metrics"]["hybrid"]["recall@10"] == 1.0
    assert report["failed"]["hybrid"] == [i["id"] for i in report["items"] if i["metrics"]["hybrid"]["recall@10"] == 0]

    md = (out / "report.md").read_text(encoding="utf-8")
    assert "## Totals" in md and "## hybrid" in md and "| lang zh |" in md and "## Failed items (hybrid" in md
    png = (out / "retrievers.png").read_bytes()
    assert png.startswith(b"\x89PNG") and len(png) > 1000
    assert result.report_json == out / "report.json" and result.report == report


def test_bm25s_runs_in_memory_without_opening_a_store(tmp_path, gold_file):
    data = tmp_path / "no-store"
    result = run_eval(make_settings(data), gold_file, retrievers="bm25s", out_dir=tmp_path / "out", progress=False)
    assert not (data / "qdrant").exists()
    totals = result.report["totals"]["bm25s"]
    assert totals["n"] == 4 and 0 < totals["recall@10"] <= 1
    pipl = result.report["items"][0]
    assert pipl["retrieved"]["bm25s"][0]["score"] >= pipl["retrieved"]["bm25s"][-1]["score"]


def test_the_offline_provider_grades_answers_and_other_providers_are_not_supported_yet(advisor, gold_file, tmp_path):
    with pytest.raises(AdvisorError, match="not yet supported: answer metrics need the LLM chain"):
        run_eval(advisor=advisor, gold_path=gold_file, provider="openai", out_dir=tmp_path / "x", progress=False)
    one_item = write_gold(tmp_path / "one.jsonl", ITEMS[:1])  # answers are slow: one is enough here
    result = run_eval(advisor=advisor, gold_path=one_item, retrievers="bm25s", provider="offline",
                      out_dir=tmp_path / "out", progress=False)
    answers = result.report["answers"]
    assert answers["provider"] == "offline" and "crude" in answers["note"]
    assert answers["totals"]["citation_validity"] == 1.0  # offline quotes are verbatim by construction
    for name in ("citation_precision", "citation_recall", "key_point_coverage", "key_point_overlap"):
        assert 0.0 <= answers["totals"][name] <= 1.0
    item = result.report["items"][0]
    assert item["answer"]["citations"] and all(c["verbatim"] for c in item["answer"]["citations"])
    assert "## Answers (provider offline)" in (tmp_path / "out" / "report.md").read_text(encoding="utf-8")


# ---- the command ---------------------------------------------------------------------------------
def _app() -> typer.Typer:
    app = typer.Typer()
    app.command("eval")(eval_command)
    app.command("noop")(lambda: None)  # two commands, so `eval` is a subcommand as in the real CLI
    return app


def test_eval_command_prints_totals_and_paths(tmp_path, gold_file, monkeypatch):
    monkeypatch.setenv("ADVISOR_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("ADVISOR_CORPUS_DIR", str(CORPUS))
    out = tmp_path / "out"
    result = CliRunner().invoke(_app(), ["eval", "--gold", str(gold_file), "--retriever", "bm25s", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "bm25s" in result.stdout and "recall@10" in result.stdout and str(out / "report.md") in result.stdout


def test_eval_command_turns_a_bad_gold_file_into_one_line_and_exit_2(tmp_path, monkeypatch):
    monkeypatch.setenv("ADVISOR_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("ADVISOR_CORPUS_DIR", str(CORPUS))
    bad = write_gold(tmp_path / "gold.jsonl", ITEMS[:1], ["not json"])
    result = CliRunner().invoke(_app(), ["eval", "--gold", str(bad)])
    assert result.exit_code == 2
    assert "gold.jsonl line 2: not valid JSON" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr


def test_key_point_overlap_counts_content_words_not_exact_strings():
    from evals.runner import KEY_POINT_OVERLAP, _overlap
    from ingest.sparse import tokens

    answer = set(tokens("Providers must obtain separate consent before transferring personal information abroad."))
    assert _overlap("separate consent for transfers abroad", answer) >= KEY_POINT_OVERLAP
    assert _overlap("a security assessment by the CAC", answer) < KEY_POINT_OVERLAP
    assert _overlap("应当取得个人的单独同意", set(tokens("处理前应当取得个人的单独同意。"))) == 1.0


def test_template_items_are_answered_through_their_template(advisor, tmp_path):
    template_item = {**ITEMS[3]}
    gold = write_gold(tmp_path / "tpl.jsonl", [template_item])
    result = run_eval(advisor=advisor, gold_path=gold, retrievers="bm25s", provider="offline", out_dir=tmp_path / "out",
                      progress=False)
    answers = result.report["answers"]
    assert answers["by_kind"]["template"]["n"] == 1 and answers["by_kind"]["free"]["n"] == 0
    assert "engine" in answers["by_answerer"]


def test_optional_fields_of_the_documented_format_default(tmp_path):
    """Only id, question, lang and gold are required: template, variables, key_points and tags default."""
    import subprocess

    from conftest import ADVISOR, cli_env

    minimal = [{"id": "pipl-export-consent-en", "question": ITEMS[0]["question"], "lang": "en",
                "gold": [{"regulation": "pipl-2021", "article": 39}]},
               {"id": "gai-labels-zh", "question": ITEMS[1]["question"], "lang": "zh", "template": None,
                "gold": [{"regulation": "gai-interim-measures-2023", "article": 12}], "key_points": ["标识"]}]
    gold = write_gold(tmp_path / "minimal.jsonl", minimal)
    items = load_gold(gold, __import__("advisor.corpus", fromlist=["load_corpus"]).load_corpus(CORPUS))
    assert [(i.template, i.variables, i.key_points, i.tags) for i in items] == [(None, {}, (), ()), (None, {}, ("标识",), ())]
    result = subprocess.run([ADVISOR, "eval", "--gold", str(gold), "--retriever", "bm25s", "--out", str(tmp_path / "out")],
                            capture_output=True, text=True, env=cli_env(tmp_path / "data"), timeout=300)
    assert result.returncode == 0, result.stderr
    assert "2 gold questions" in result.stdout
    for bad, says in (({"tags": "filing"}, "'tags' must be a list of strings"), ({"variables": []}, "'variables' must be an object")):
        write_gold(tmp_path / "bad.jsonl", [{**minimal[0], **bad}])
        with pytest.raises(AdvisorError, match=says):
            load_gold(tmp_path / "bad.jsonl", __import__("advisor.corpus", fromlist=["load_corpus"]).load_corpus(CORPUS))
