"""Re-assessment: a corpus change (an amended article, a new or disabled rule, a new version of a law taking
effect) shows per system which obligations were added, removed or changed, and the articles that caused it."""

from __future__ import annotations

import datetime as dt
import shutil

import pytest
import yaml

from advisor import Advisor
from advisor.workspace import Workspace
from advisor.workspace.reassess import pair_articles, report_text
from conftest import CORPUS, make_settings

CII = {"name": "Grid dispatch AI", "cii_operator": True, "personal_information": True, "pi_subjects": 300000,
       "important_data": True, "sector": "energy"}
CHATBOT = {"name": "Bot", "public_service": True, "features": {"generative_text": True},
           "personal_information": True, "pi_subjects": 20000}


def test_articles_pair_by_text_so_insertions_show_as_renumbering():
    old = [{"number": 1, "zh": "第一条的内容，关于适用范围。"}, {"number": 2, "zh": "提供者应当依法开展训练数据处理活动。"},
           {"number": 3, "zh": "提供者应当按照规定对生成内容进行标识，并保存日志。"}, {"number": 4, "zh": "本办法自公布之日起施行。"}]
    new = [{"number": 1, "zh": "第一条的内容，关于适用范围。"}, {"number": 2, "zh": "全新的一条：建立投诉举报机制。"},
           {"number": 3, "zh": "提供者应当依法开展训练数据处理活动。"},
           {"number": 4, "zh": "提供者应当按照规定对生成内容进行显著标识，并保存网络日志不少于六个月。"},
           {"number": 5, "zh": "本办法自公布之日起施行。"}]
    pairs = pair_articles(old, new)
    assert pairs["unchanged"] == 1
    assert pairs["renumbered"] == [{"old": 2, "new": 3}, {"old": 4, "new": 5}]
    assert [(c["old"], c["new"]) for c in pairs["changed"]] == [(3, 4)] and pairs["changed"][0]["similarity"] > 0.5
    assert pairs["added"] == [2] and pairs["removed"] == []


def test_a_new_version_taking_effect_shows_the_renumbered_articles(rules, tmp_path):
    ws = Workspace.open(url=f"sqlite:///{tmp_path / 'ws.db'}")
    ws.add_system("Grid dispatch AI", CII, user="a")
    ws.assess_system("grid-dispatch-ai", rules, user="a", as_of=dt.date(2025, 6, 1))  # the 2016 CSL is in force
    before = {i["obligation"]: i for i in ws.checklist("grid-dispatch-ai")}
    assert ("csl-2016", 37) in [(c["instrument"], c["article"]) for c in before["cii-localisation"]["citations"]]

    report = ws.reassess("grid-dispatch-ai", rules, user="a", as_of=dt.date(2026, 2, 1))  # the 2025 amendment is
    kinds = {(c["instrument"], c["change"]) for c in report["instruments"]}
    assert {("csl-2016", "no_longer_in_force"), ("csl-2025", "now_in_force"), ("csl-2025", "new_version")} <= kinds
    version = next(c for c in report["instruments"] if c["change"] == "new_version")
    assert version["replaces"] == "csl-2016"
    pairs = {(p["old"], p["new"]) for p in version["articles"]["renumbered"] + version["articles"]["changed"]}
    assert (37, 39) in pairs
    localisation = next(c for c in report["obligations"]["changed"] if c["id"] == "cii-localisation")
    assert "-csl-2016 Art. 37" in localisation["changes"][0] and "+csl-2025 Art. 39" in localisation["changes"][0]
    assert any(cause.startswith("csl-2016 Art. 37 -> csl-2025 Art. 39") for cause in localisation["caused_by"])
    text = report_text("grid-dispatch-ai", report)
    assert "~ cii-localisation" in text and "replaces csl-2016" in text and "37->39" in text
    # saved: the checklist now cites the 2025 law, and a second reassessment finds nothing new
    after = {i["obligation"]: i for i in ws.checklist("grid-dispatch-ai")}
    assert ("csl-2025", 39) in [(c["instrument"], c["article"]) for c in after["cii-localisation"]["citations"]]
    again = ws.reassess("grid-dispatch-ai", rules, user="a", as_of=dt.date(2026, 2, 1), save=False)
    assert again["unchanged"] and "no change" in report_text("grid-dispatch-ai", again)
    ws.close()


@pytest.fixture
def corpus_copy(tmp_path):
    target = tmp_path / "corpus"
    shutil.copytree(CORPUS, target)
    return target


def _edit_yaml(path, edit) -> None:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    edit(data)
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=1000), encoding="utf-8")


def test_an_edited_corpus_gives_the_right_obligation_and_article_diff(corpus_copy, tmp_path):
    day = dt.date(2026, 3, 2)
    ws = Workspace.open(url=f"sqlite:///{tmp_path / 'ws.db'}")
    ws.add_system("Bot", CHATBOT, user="a")
    with Advisor(make_settings(tmp_path / "d1", corpus_dir=corpus_copy)) as first:
        stored = first.assess(CHATBOT, day)
        ws.assess_system("bot", first, user="a", as_of=day)
    gai = "gai-interim-measures-2023"
    article = next(c.article for f in stored.applicable for c in f.citations if c.instrument == gai)
    citing = sorted(f.id for f in (*stored.applicable, *stored.to_confirm)
                    if (gai, article) in [(c.instrument, c.article) for c in f.citations])
    disabled = next(f.id for f in stored.applicable if f.id not in citing and f.id.startswith("pipl"))

    # the corpus changes: the GAI article is amended, one rule stops applying, a new rule appears
    def amend(data):
        art = next(a for a in data["articles"] if a["number"] == article)
        art["zh"] = art["zh"] + "提供者应当每年复核备案信息。"
    _edit_yaml(corpus_copy / "instruments" / f"{gai}.yaml", amend)
    for path in (corpus_copy / "obligations").glob("*.yaml"):
        def rules_edit(data):
            for ob in list(data.get("obligations", [])):
                if ob["id"] == disabled:
                    ob["applies_when"] = {"always": False}
                if ob["id"] == citing[0]:
                    new = dict(ob, id="gai-annual-filing-review", title_en="Annual review of the filing",
                               title_zh="每年复核备案信息", depends_on=[])
                    data["obligations"].append(new)
        _edit_yaml(path, rules_edit)

    with Advisor(make_settings(tmp_path / "d2", corpus_dir=corpus_copy)) as second:
        report = ws.reassess("bot", second, user="b", as_of=day)
    ob = report["obligations"]
    assert [a["id"] for a in ob["added"]] == ["gai-annual-filing-review"]
    assert "the rule is new in the rulebook" in ob["added"][0]["caused_by"]
    assert [r["id"] for r in ob["removed"]] == [disabled]
    changed = {c["id"]: c for c in ob["changed"]}
    assert set(citing) == set(changed)
    for oid in citing:
        assert "the text of a cited article changed" in changed[oid]["changes"]
        assert any(f"{gai} Art. {article}: text amended" in c for c in changed[oid]["caused_by"])
    amended = next(c for c in report["instruments"] if c["instrument"] == gai)
    assert amended["change"] == "text_changed"
    assert [(c["old"], c["new"]) for c in amended["articles"]["changed"]] == [(article, article)]
    assert amended["articles"]["unchanged"] == len(first.corpus.instruments[gai].articles) - 1
    assert all(c["instrument"] == gai for c in report["instruments"])  # nothing else changed
    active = {i["obligation"] for i in ws.checklist("bot")}
    assert "gai-annual-filing-review" in active and disabled not in active
    ws.close()
