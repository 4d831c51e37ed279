"""The applicability engine: profiles in tests/profiles/ against expectations written by hand from the
article texts, determinism, strict profiles, roadmap order, verbatim citations, obligations validation."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
import typer
import yaml
from typer.testing import CliRunner

from advisor.compose.assess import (
    PROFILE_FIELDS,
    Assessment,
    ProfileError,
    assess,
    load_profile,
    parse_profile,
)
from advisor.corpus import load_corpus
from advisor.corpus.obligations import ObligationError, check_obligations, load_obligations
from conftest import CORPUS

PROFILES = Path(__file__).parent / "profiles"
OBLIGATIONS = CORPUS / "obligations"
AS_OF = dt.date(2026, 12, 1)
NAMES = sorted(p.name.removesuffix(".yaml") for p in PROFILES.glob("*.yaml") if not p.name.endswith(".expected.yaml"))


@pytest.fixture(scope="module")
def corpus():
    return load_corpus(CORPUS)


@pytest.fixture(scope="module")
def book(corpus):
    return load_obligations(OBLIGATIONS, corpus)


@pytest.fixture(scope="module")
def results(corpus, book) -> dict[str, Assessment]:
    return {name: assess(load_profile(PROFILES / f"{name}.yaml"), corpus, book, AS_OF) for name in NAMES}


def _expected(name: str) -> dict:
    return yaml.safe_load((PROFILES / f"{name}.expected.yaml").read_text(encoding="utf-8"))


# --------------------------------------------------------------------------- obligations files


def test_obligations_files_validate(corpus):
    book, problems = check_obligations(OBLIGATIONS, corpus)
    assert problems == []
    assert len(book.obligations) >= 60
    assert {"gai-service", "ds-service", "arp-service", "pipl-handler"} <= set(book.scopes)


def test_every_obligation_cites_existing_articles_and_unverified_ones_carry_a_caveat(corpus, book):
    for ob in book.obligations.values():
        for ref in [*ob.spec.rests_on, *ob.spec.penalty]:
            assert corpus.instruments[ref.instrument].article(ref.article) is not None, (ob.id, ref)
        unverified = [r for r in ob.spec.rests_on if r.article in corpus.instruments[r.instrument].verification.unverified_articles]
        if unverified:
            assert ob.spec.caveat is not None and "unverified" in ob.spec.caveat.en, ob.id


def test_a_caveat_that_says_unverified_cites_an_unverified_article(corpus, book):
    """A caveat must not outlive the verification of the articles it warns about."""
    for ob in book.obligations.values():
        if ob.spec.caveat and "marked unverified" in ob.spec.caveat.en:
            assert any(r.article in corpus.instruments[r.instrument].verification.unverified_articles
                       for r in ob.spec.rests_on), ob.id


def test_every_chinese_quote_in_why_is_verbatim_from_a_cited_article(corpus, book):
    import re

    for rule in [*book.scopes.values(), *book.obligations.values()]:
        cited = [*rule.spec.rests_on, *getattr(rule.spec, "penalty", [])]
        texts = [corpus.instruments[r.instrument].article(r.article).zh.replace("\n", "") for r in cited]
        for quote in re.findall(r'"([^"]*)"', rule.spec.why):
            if re.search(r"[\u4e00-\u9fff]", quote):
                assert any(quote in t for t in texts), (rule.id, quote)


def test_labelling_rests_only_on_the_labelling_articles(book):
    """GAI Art. 12, Deep Synthesis Arts. 16-18 and the Labelling Measures' duty articles (4-10, 12)."""
    allowed = {("gai-interim-measures-2023", 12), *(("deep-synthesis-provisions-2022", n) for n in (16, 17, 18)),
               *(("ai-content-labelling-measures-2025", n) for n in (4, 5, 6, 7, 8, 9, 10, 12))}
    labelling = [ob for ob in book.obligations.values() if "label" in ob.id]
    assert len(labelling) >= 8
    for ob in labelling:
        assert {(r.instrument, r.article) for r in ob.spec.rests_on} <= allowed, ob.id


def _write(folder: Path, name: str, data: dict) -> None:
    (folder / name).write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")


def _rule(oid: str, **changes) -> dict:
    rule = {
        "id": oid, "title_zh": "测试义务", "title_en": "Test obligation",
        "rests_on": [{"instrument": "pipl-2021", "article": 17}], "binds": ["pi_handler"],
        "applies_when": {"field": "personal_information", "eq": True},
        "why": "PIPL Art. 17 binds every personal information handler before processing.",
        "what_to_do": {"en": "Do it.", "zh": "照做。"}, "evidence": [{"en": "A record", "zh": "记录"}],
        "timing": None, "penalty": [], "depends_on": [], "stage": "build", "topic": "personal_information",
    }
    rule.update(changes)
    return rule


@pytest.mark.parametrize("change, message", [
    ({"colour": "red"}, "colour: unknown field"),
    ({"rests_on": [{"instrument": "no-such-law", "article": 1}]}, "unknown instrument 'no-such-law'"),
    ({"rests_on": [{"instrument": "pipl-2021", "article": 999}]}, "'pipl-2021' has no article 999"),
    ({"rests_on": [{"instrument": "gb-45438-2025", "article": 1}]}, "summary only"),
    ({"rests_on": [{"instrument": "digital-human-measures-draft-2026", "article": 1}]}, "draft"),
    ({"applies_when": {"field": "featurs.generative", "eq": True}}, "unknown profile field 'featurs.generative'"),
    ({"applies_when": {"field": "users", "gte": "many"}}, "field 'users' gte"),
    ({"applies_when": {"field": "sector", "eq": "bakery"}}, "'bakery' is not one of"),
    ({"applies_when": {"scope": "nowhere"}}, "unknown scope 'nowhere'"),
    ({"depends_on": ["ghost"]}, "depends_on unknown obligation 'ghost'"),
    ({"rests_on": [{"instrument": "cross-border-data-flow-provisions-2024", "article": 7}]}, "marks unverified"),
])
def test_obligation_problems_name_file_and_rule(tmp_path, corpus, change, message):
    _write(tmp_path, "bad.yaml", {"obligations": [_rule("test-rule", **change)]})
    _, problems = check_obligations(tmp_path, corpus)
    assert any(p.startswith("bad.yaml: obligation 'test-rule'") and message in p for p in problems), problems


def test_dependency_cycles_are_reported(tmp_path, corpus):
    _write(tmp_path, "a.yaml", {"obligations": [_rule("rule-a", depends_on=["rule-b"])]})
    _write(tmp_path, "b.yaml", {"obligations": [_rule("rule-b", depends_on=["rule-a"])]})
    with pytest.raises(ObligationError) as exc:
        load_obligations(tmp_path, corpus)
    assert "a.yaml, b.yaml: obligation 'rule-a': dependency cycle rule-a -> rule-b -> rule-a" in str(exc.value)


def test_duplicate_ids_and_yaml_errors(tmp_path, corpus):
    _write(tmp_path, "a.yaml", {"obligations": [_rule("same-id")]})
    _write(tmp_path, "b.yaml", {"obligations": [_rule("same-id")]})
    (tmp_path / "c.yaml").write_text("obligations: [\n", encoding="utf-8")
    _, problems = check_obligations(tmp_path, corpus)
    assert "b.yaml: obligation 'same-id': duplicate id (also in a.yaml)" in problems
    assert any(p.startswith("c.yaml: not valid YAML") for p in problems)


# --------------------------------------------------------------------------- profiles vs expectations


def test_there_are_at_least_twelve_profiles_each_with_expectations():
    assert len(NAMES) >= 12
    for name in NAMES:
        assert (PROFILES / f"{name}.expected.yaml").exists(), name


@pytest.mark.parametrize("name", NAMES)
def test_profile_matches_hand_derived_expectations(name, results, book):
    expected, result = _expected(name), results[name]
    named = [*expected.get("must_apply", []), *expected.get("must_not_apply", []), *expected.get("must_confirm", [])]
    assert set(named) <= set(book.obligations), sorted(set(named) - set(book.obligations))
    applies, confirm = set(result.ids("applies")), set(result.ids("confirm"))
    assert sorted(set(expected.get("must_apply", [])) - applies) == []
    assert sorted(set(expected.get("must_not_apply", [])) & (applies | confirm)) == []
    assert sorted(set(expected.get("must_confirm", [])) - confirm) == []
    assert result.risk_level == expected["risk_level"], [d.rule for d in result.risk_drivers]


def test_reasons_name_the_deciding_profile_facts(results):
    lab = {f.id: f for f in results["internal-rd-lab"].not_applicable}
    assert "public_service = false" in lab["gai-licences"].reasons
    assert "scope gai-service does not apply" in lab["gai-licences"].reasons
    bank = {f.id: f for f in results["bank-cs-bot"].applicable}
    reasons = bank["xb-standard-contract-or-certification"].reasons
    assert "cross_border.pi_subjects_abroad = 150000 (≥ 100000)" in reasons
    assert "cross_border.sensitive_subjects_abroad = 8000 (< 10000)" in reasons


def test_scopes_report_the_internal_use_exclusion(results):
    gai = next(s for s in results["internal-rd-lab"].scopes if s.id == "gai-service")
    assert not gai.applies
    assert "第二条" in {c.heading_zh for c in gai.citations}
    assert "未向境内公众提供生成式人工智能服务的，不适用本办法的规定" in gai.citations[0].text_zh


# --------------------------------------------------------------------------- determinism


@pytest.mark.parametrize("name", ["public-chatbot", "bank-cs-bot", "ipo-social-platform"])
def test_same_profile_gives_byte_identical_output(name, corpus, book):
    first = assess(load_profile(PROFILES / f"{name}.yaml"), corpus, book, AS_OF)
    fresh_corpus = load_corpus(CORPUS)
    second = assess(load_profile(PROFILES / f"{name}.yaml"), fresh_corpus, load_obligations(OBLIGATIONS, fresh_corpus), AS_OF)
    assert first.to_json() == second.to_json()
    assert json.dumps(first.to_dict(), ensure_ascii=False) == json.dumps(second.to_dict(), ensure_ascii=False)
    for lang in ("en", "zh"):
        assert first.to_markdown(lang) == second.to_markdown(lang)


def test_output_is_sorted(results):
    for result in results.values():
        for group in (result.applicable, result.to_confirm, result.not_applicable):
            ids = [f.id for f in group]
            assert ids == sorted(ids)
        assert [s.order for s in result.roadmap] == list(range(1, len(result.roadmap) + 1))


# --------------------------------------------------------------------------- strict profiles


def test_unknown_field_lists_the_valid_fields():
    with pytest.raises(ProfileError) as exc:
        parse_profile({"name": "x", "publc_service": True})
    msg = str(exc.value)
    assert "unknown field 'publc_service'" in msg and "public_service" in msg and "\n" not in msg


def test_unknown_nested_field_lists_the_nested_fields():
    with pytest.raises(ProfileError) as exc:
        parse_profile({"features": {"genrative_text": True}})
    msg = str(exc.value)
    assert "unknown field 'features.genrative_text'" in msg
    assert "valid fields of features: generative_text" in msg


@pytest.mark.parametrize("data, fragment", [
    ({"users": "many"}, "field 'users'"),
    ({"public_service": "yes"}, "field 'public_service'"),
    ({"users": -5}, "field 'users'"),
    ({"sector": "bakery"}, "field 'sector'"),
    ({"models": ["gpt"]}, "field 'models.0'"),
    ({"cross_border": {"subjects": 1.5}}, "field 'cross_border.subjects'"),
    ({"public_service": True, "internal_only": True}, "cannot both be true"),
    ({"pi_subjects": 10}, "need personal_information: true"),
    ({"personal_information": True, "minors_among_users": False, "children_under_14": True}, "children are minors"),
    ({"features": {"work_scheduling": True}}, "features.work_scheduling needs features.algorithmic_recommendation"),
    ({"monthly_active_users": -1}, "field 'monthly_active_users'"),
    ({"monthly_active_users": "lots"}, "field 'monthly_active_users'"),
])
def test_ill_typed_or_inconsistent_fields_are_clear_errors(data, fragment):
    with pytest.raises(ProfileError) as exc:
        parse_profile(data)
    assert fragment in str(exc.value) and "valid fields:" in str(exc.value)


def test_load_profile_reads_json_and_reports_bad_files(tmp_path):
    (tmp_path / "p.json").write_text(json.dumps({"public_service": True, "features": {"generative_text": True}}), encoding="utf-8")
    profile = load_profile(tmp_path / "p.json")
    assert profile.public_service and profile.name == "p"
    with pytest.raises(ProfileError, match="not found"):
        load_profile(tmp_path / "missing.yaml")
    (tmp_path / "bad.yaml").write_text("features: [\n", encoding="utf-8")
    with pytest.raises(ProfileError, match="not valid YAML"):
        load_profile(tmp_path / "bad.yaml")
    (tmp_path / "list.yaml").write_text("- 1\n", encoding="utf-8")
    with pytest.raises(ProfileError, match="expected a mapping"):
        load_profile(tmp_path / "list.yaml")


def test_every_profile_field_is_usable_in_conditions():
    assert "features.generative_text" in PROFILE_FIELDS and "cross_border.pi_exported" in PROFILE_FIELDS
    assert PROFILE_FIELDS["sector"].choices and "finance" in PROFILE_FIELDS["sector"].choices
    assert PROFILE_FIELDS["monthly_active_users"].kind == "int" and PROFILE_FIELDS["monthly_active_users"].nullable
    assert PROFILE_FIELDS["elderly_users"].kind == "bool" and PROFILE_FIELDS["features.work_scheduling"].kind == "bool"


# --------------------------------------------------------------------------- large network platforms (NDSR Art. 62(8))


_PLATFORM = {"public_service": True, "personal_information": True, "features": {"third_party_platform": True}}


@pytest.mark.parametrize("users, mau, status", [
    (50_000_000, None, "confirm"),           # 注册用户5000万以上: 以上 includes the number
    (49_999_999, 9_999_999, "not_applicable"),
    (40_000_000, 10_000_000, "confirm"),     # 月活跃用户1000万以上
    (60_000_000, 0, "confirm"),
    (10_000_000, None, "confirm"),           # monthly active users not given: the monthly line may be reached
    (9_999_999, None, "not_applicable"),
    (30_000_000, 9_999_999, "not_applicable"),  # given: below both lines
])
def test_large_platform_line_follows_ndsr_62_8(corpus, book, users, mau, status):
    profile = parse_profile({**_PLATFORM, "users": users, "monthly_active_users": mau})
    result = assess(profile, corpus, book, AS_OF)
    statuses = {f.id: f.status for f in (*result.applicable, *result.to_confirm, *result.not_applicable)}
    assert statuses["ndsr-large-platform-pi-report"] == status
    assert statuses["ndsr-large-platform-no-abuse"] == status
    assert statuses["ndsr-large-platform-cross-border"] == "not_applicable"  # nothing provided abroad
    assert statuses["ndsr-large-platform-important-data-report"] == "not_applicable"
    assert "ndsr-large-platform-pi-report" not in result.ids("applies")  # never more than a question
    if mau is None:
        reasons = next(f for f in (*result.to_confirm, *result.not_applicable) if f.id == "ndsr-large-platform-pi-report").reasons
        assert any(r.startswith("monthly_active_users = null") for r in reasons)


def test_numeric_comparisons_with_a_missing_number_do_not_hold(corpus, book):
    profile = parse_profile({**_PLATFORM, "users": 100})
    finding = next(f for f in assess(profile, corpus, book, AS_OF).not_applicable if f.id == "ndsr-large-platform-pi-report")
    assert "monthly_active_users = null (not given)" in finding.reasons


# --------------------------------------------------------------------------- users' rights (ARP Arts. 18-21)


def test_elderly_and_worker_rules_need_a_recommendation_service(corpus, book):
    base = {"elderly_users": True, "features": {"algorithmic_recommendation": True, "work_scheduling": True}}
    internal = assess(parse_profile({**base, "internal_only": True}), corpus, book, AS_OF)
    assert {"arp-elderly", "arp-worker-scheduling"} <= set(internal.ids("not_applicable"))
    public = assess(parse_profile({**base, "public_service": True}), corpus, book, AS_OF)
    assert {"arp-elderly", "arp-worker-scheduling"} <= set(public.ids("applies"))
    quiet = assess(parse_profile({"public_service": True, "features": {"algorithmic_recommendation": True}}), corpus, book, AS_OF)
    assert any(w.startswith("elderly_users is false") for w in quiet.warnings)
    assert not any(w.startswith("elderly_users is false") for w in public.warnings)


# --------------------------------------------------------------------------- roadmap


@pytest.mark.parametrize("name", NAMES)
def test_roadmap_respects_depends_on(name, results):
    result = results[name]
    steps = {s.obligation: s for s in result.roadmap}
    planned = set(result.ids("applies")) | set(result.ids("confirm"))
    assert set(steps) == planned
    for step in result.roadmap:
        assert 1 <= step.month <= 6
        finding = next(f for f in (*result.applicable, *result.to_confirm) if f.id == step.obligation)
        for dep in finding.depends_on:
            if dep not in steps:
                continue
            before = steps[dep]
            assert (before.month, before.order) < (step.month, step.order), (step.obligation, dep)
            live_now = before.month == step.month == 1 and any(s.kind == "overdue" for s in result.roadmap)
            assert before.month < step.month or step.month == 6 or live_now, (step.obligation, dep)  # live: all due now


def test_filing_comes_after_security_assessment_and_algorithm_review(corpus, book):
    profile = load_profile(PROFILES / "public-chatbot.yaml")
    planned = assess(profile.model_copy(update={"launched": False}), corpus, book, AS_OF)
    steps = {s.obligation: s for s in planned.roadmap}
    assert steps["gai-algorithm-filing"].month > steps["gai-security-assessment"].month
    assert steps["gai-algorithm-filing"].month > steps["arp-algorithm-review"].month
    assert steps["arp-filing"].order > steps["arp-algorithm-review"].order
    assert all(s.month == 1 for s in planned.roadmap if s.kind == "confirm" and not s.depends_on)
    live = {s.obligation: s for s in assess(profile, corpus, book, AS_OF).roadmap}  # launched: all due now, in order
    assert live["gai-algorithm-filing"].month == live["gai-security-assessment"].month == 1
    assert live["gai-algorithm-filing"].order > live["gai-security-assessment"].order
    assert live["gai-algorithm-filing"].order > live["arp-algorithm-review"].order


# --------------------------------------------------------------------------- citations


@pytest.mark.parametrize("name", NAMES)
def test_every_citation_is_the_verbatim_article_text(name, results, corpus):
    result = results[name]
    citations = [c for f in (*result.applicable, *result.to_confirm) for c in f.citations]
    citations += [c for s in result.scopes for c in s.citations]
    assert citations
    for c in citations:
        inst = corpus.instruments[c.instrument]
        art = inst.article(c.article)
        assert c.text_zh == art.zh and c.text_en == art.en and c.title_zh == inst.title_zh
        assert c.heading_zh == art.heading_zh
        assert corpus.applies(inst, AS_OF), c.instrument
        assert c.verified == (c.article not in inst.verification.unverified_articles)


def test_unverified_articles_are_flagged(results):
    bank = results["bank-cs-bot"]
    finding = next(f for f in bank.applicable if f.id == "xb-standard-contract-or-certification")
    flags = {(c.instrument, c.article): c.verified for c in finding.citations}
    assert flags[("cross-border-data-flow-provisions-2024", 8)] is False
    assert flags[("pipl-2021", 38)] is True
    assert any("marked unverified" in w for w in bank.warnings)
    assert "unverified" in finding.caveat["en"]


def test_citations_follow_the_version_in_force(corpus, book):
    profile = load_profile(PROFILES / "internal-rd-lab.yaml")
    before = {f.id: f for f in assess(profile, corpus, book, dt.date(2025, 6, 1)).applicable}
    after = {f.id: f for f in assess(profile, corpus, book, AS_OF).applicable}
    assert [(c.instrument, c.article) for c in before["csl-mlps"].citations] == [("csl-2016", 21)]
    assert [(c.instrument, c.article) for c in after["csl-mlps"].citations] == [("csl-2025", 23)]
    bank = load_profile(PROFILES / "bank-cs-bot.yaml")
    early = {f.id: f for f in assess(bank, corpus, book, dt.date(2025, 6, 1)).applicable}
    cited = {c.instrument for c in early["xb-standard-contract-or-certification"].citations}
    assert "pi-export-certification-measures-2025" not in cited  # in force only from 2026-01-01


def test_rules_not_in_force_do_not_apply(corpus, book):
    profile = load_profile(PROFILES / "public-chatbot.yaml")
    result = assess(profile, corpus, book, dt.date(2023, 1, 1))  # before the GAI Measures took effect
    assert "gai-service-agreement" not in result.ids("applies")
    reasons = next(f for f in result.not_applicable if f.id == "gai-service-agreement").reasons
    assert reasons == ("no instrument it rests on is in force on 2023-01-01",)


# --------------------------------------------------------------------------- reports and CLI


def test_markdown_reports_in_both_languages(results):
    result = results["public-chatbot"]
    en, zh = result.to_markdown("en"), result.to_markdown("zh")
    assert "Risk level: **HIGH**" in en and "### Month 1" in en
    assert "风险等级: **高（high）**" in zh and "### 第1个月" in zh
    assert "提供具有舆论属性或者社会动员能力的生成式人工智能服务的" in en and "提供具有舆论属性或者社会动员能力的生成式人工智能服务的" in zh
    assert "Not legal advice" in en and "不构成法律意见" in zh


def test_report_header_shows_platforms_and_destinations(results):
    agency, bank = results["content-agency"], results["bank-cs-bot"]
    assert "Publishes on: Xiaohongshu, WeChat, Weibo (recorded only" in agency.to_markdown("en")
    assert "发布平台: Xiaohongshu、WeChat、Weibo（仅作记录" in agency.to_markdown("zh")
    assert "Cross-border destinations: Singapore (recorded only" in bank.to_markdown("en")
    assert bank.to_dict()["recorded"] == {"platforms": [], "cross_border_destinations": ["Singapore"]}
    assert "Publishes on" not in results["internal-rd-lab"].to_markdown("en")


def _cli() -> typer.Typer:
    from advisor.present.cli_assess import assess_command

    app = typer.Typer()
    app.command("assess")(assess_command)
    app.command("noop")(lambda: None)  # keep `assess` a sub-command, as in the real CLI
    return app


def test_cli_prints_json_and_turns_errors_into_one_line(tmp_path, monkeypatch):
    monkeypatch.setenv("ADVISOR_CORPUS_DIR", str(CORPUS))
    runner = CliRunner()
    ok = runner.invoke(_cli(), ["assess", "--profile", str(PROFILES / "bank-cs-bot.yaml"), "--json", "--as-of", "2026-06-01"])
    assert ok.exit_code == 0, ok.output
    data = json.loads(ok.stdout)
    assert data["risk"]["level"] == "high" and data["as_of"] == "2026-06-01"
    assert [m["month"] for m in data["roadmap"]] == [1, 2, 3, 4, 5, 6]
    (tmp_path / "bad.yaml").write_text("users: lots\n", encoding="utf-8")
    bad = runner.invoke(_cli(), ["assess", "--profile", str(tmp_path / "bad.yaml")])
    assert bad.exit_code == 2
    zh = runner.invoke(_cli(), ["assess", "--profile", str(PROFILES / "content-agency.yaml"), "--lang", "zh"])
    assert zh.exit_code == 0 and "合规评估" in zh.stdout
    wrong = runner.invoke(_cli(), ["assess", "--profile", str(PROFILES / "content-agency.yaml"), "--lang", "fr"])
    assert wrong.exit_code == 2
