"""The interview form: fields derived from Profile, form <-> profile round trips, and its handlers
(assess, upload) called directly. The browser test is in test_browser.py."""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
import uuid
from pathlib import Path
from typing import Literal

import gradio as gr
import pytest
import yaml
from pydantic import BaseModel

from advisor.compose.assess import Profile, load_profile, parse_profile
from advisor.present.interview_ui import (
    NONE,
    SECTIONS,
    build_interview,
    form_fields,
    form_to_profile,
    profile_dict,
    profile_to_form,
    profile_yaml,
)

PROFILES = Path(__file__).parent / "profiles"
NAMES = sorted(p.name.removesuffix(".yaml") for p in PROFILES.glob("*.yaml") if not p.name.endswith(".expected.yaml"))
CITATION = re.compile(r"《[^》]+》\s*第[0-9一二三四五六七八九十百零]+条")
AS_OF = "2026-06-01"


def _handler(demo, name: str):
    fns = demo.fns.values() if isinstance(demo.fns, dict) else demo.fns
    return next(f.fn for f in fns if getattr(f.fn, "__name__", "") == name)


def _leaves(model, prefix: str = "") -> list[str]:
    out = []
    for name, info in model.model_fields.items():
        ann = info.annotation
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            out += _leaves(ann, f"{prefix}{name}.")
        else:
            out.append(prefix + name)
    return out


def _args(form: dict) -> list:
    return [form[f.path] for f in form_fields()]


@pytest.fixture(scope="module")
def interview(advisor):
    with gr.Blocks() as demo:
        state = build_interview(advisor)
    return demo, state


# ---- fields and round trips ----------------------------------------------------------------------

def test_fields_follow_the_profile_model():
    fields = form_fields()
    assert sorted(f.path for f in fields) == sorted(_leaves(Profile))
    sections = [f.section for f in fields]
    assert list(dict.fromkeys(sections)) == [s for s in SECTIONS if s in sections]  # grouped, in display order
    assert {f.section for f in fields} <= set(SECTIONS) and len({f.elem_id for f in fields}) == len(fields)
    by_path = {f.path: f for f in fields}
    assert by_path["features.generative_text"].kind == "bool" and by_path["features.generative_text"].section == "ai"
    assert by_path["users"].kind == "int" and by_path["sector"].kind == "choice"
    assert by_path["models"].kind == "multi" and set(by_path["models"].choices) == {"domestic_filed", "foreign_api", "own_model"}
    assert by_path["platforms"].kind == "tags" and by_path["cross_border.destinations"].kind == "tags"
    exemption = by_path["cross_border.exemption"]
    assert exemption.kind == "choice" and exemption.optional and exemption.default is None
    assert by_path["public_service"].label == "Offers the service to the public in mainland China · 向境内公众提供服务"
    assert by_path["public_service"].elem_id == "field-public-service"
    assert all(" · " in f.label for f in fields if f.path in ("name", "sector", "cii_operator"))


def test_an_optional_yes_no_offers_not_sure_which_leaves_the_fact_open():
    by_path = {f.path: f for f in form_fields()}
    for path in ("public_service", "public_opinion_or_mobilisation"):
        assert by_path[path].kind == "tristate" and by_path[path].default is None
    assert form_to_profile({"public_service": NONE, "public_opinion_or_mobilisation": "no"}) == {"public_opinion_or_mobilisation": False}
    assert form_to_profile({"public_service": "yes"}) == {"public_service": True}
    assert profile_to_form({"public_service": False})["public_service"] == "no"
    assert profile_to_form({})["public_opinion_or_mobilisation"] == NONE


def test_facts_not_known_are_a_choice_of_profile_fields():
    unknown = {f.path: f for f in form_fields()}["unknown"]
    assert unknown.kind == "multi" and "public_service" in unknown.choices and "unknown" not in unknown.choices
    assert parse_profile(form_to_profile({"unknown": ["minors_among_users"]})).unknown == ["minors_among_users"]


def test_new_fields_get_a_readable_fallback_label():
    from pydantic import Field

    class Bigger(Profile):
        night_shift_workers: bool = False
        hosting: Literal["own", "cloud"] | None = Field(None, description="where servers run")

    by_path = {f.path: f for f in form_fields(Bigger)}
    assert by_path["night_shift_workers"].label == "Night shift workers" and by_path["night_shift_workers"].kind == "bool"
    hosting = by_path["hosting"]
    assert (hosting.kind, hosting.choices, hosting.optional, hosting.help) == ("choice", ("own", "cloud"), True, "where servers run")
    values = {"night_shift_workers": True, "hosting": "cloud", "public_service": True}
    assert form_to_profile(values, form_fields(Bigger)) == values
    assert form_to_profile({"hosting": NONE}, form_fields(Bigger)) == {}


@pytest.mark.parametrize("name", NAMES)
def test_profile_form_profile_round_trip(name, tmp_path):
    profile = load_profile(PROFILES / f"{name}.yaml")
    form = profile_to_form(profile)
    assert set(form) == {f.path for f in form_fields()}
    data = form_to_profile(form)
    assert parse_profile(data) == profile
    assert data == profile_dict(profile)  # minimal: no field left at its default
    text = profile_yaml(profile)
    assert yaml.safe_load(text) == data
    (tmp_path / "p.yaml").write_text(text, encoding="utf-8")
    assert load_profile(tmp_path / "p.yaml") == profile


def test_form_values_are_normalised():
    assert form_to_profile({}) == {}
    assert form_to_profile({f.path: f.default for f in form_fields()}) == {}
    data = form_to_profile({
        "name": "  Shop  ", "public_service": True, "features.generative_text": True, "users": 1500.0,
        "pi_subjects": "1,000", "personal_information": True, "models": ["foreign_api"],
        "platforms": "WeChat， Douyin、 Xiaohongshu", "cross_border.destinations": ["Japan", " "],
        "cross_border.exemption": NONE, "sector": None, "monthly_active_users": "",
    })
    assert data == {"name": "Shop", "public_service": True, "features": {"generative_text": True}, "users": 1500,
                    "pi_subjects": 1000, "personal_information": True, "models": ["foreign_api"],
                    "platforms": ["WeChat", "Douyin", "Xiaohongshu"], "cross_border": {"destinations": ["Japan"]}}
    assert parse_profile(data).users == 1500
    # an optional count is a text box: empty means not known, a number is kept
    assert form_to_profile({"monthly_active_users": " 12000000 "}) == {"monthly_active_users": 12_000_000}
    assert profile_to_form({"monthly_active_users": 0})["monthly_active_users"] == "0"
    assert profile_to_form({})["monthly_active_users"] == ""


# ---- the handlers ----------------------------------------------------------------------------------

@pytest.mark.parametrize("name,lang", [("public-chatbot", "en"), ("clinic-lab-export", "zh")])
def test_assess_handler_matches_the_engine(interview, advisor, name, lang):
    demo, _ = interview
    assess = _handler(demo, "assess_profile_form")
    profile = load_profile(PROFILES / f"{name}.yaml")
    risk, report, report_file, profile_file, state = assess(lang, AS_OF, None, *_args(profile_to_form(profile)))
    expected = advisor.assess(profile, as_of=dt.date.fromisoformat(AS_OF))
    assert report == expected.to_markdown(lang)
    assert expected.risk_level.upper() in risk and AS_OF in risk
    shown = re.findall(r"^### .* \(`([a-z0-9-]+)`\)$", report, flags=re.MULTILINE)
    assert shown == expected.ids("applies") + expected.ids("confirm") and shown
    md = Path(report_file["value"])
    assert report_file["interactive"] is True and md.suffix == ".md"
    text = md.read_text(encoding="utf-8")
    assert text.startswith(expected.to_markdown(lang)) and CITATION.search(text)
    assert load_profile(profile_file["value"]) == profile
    assert state == profile_dict(profile)


def test_assess_handler_reports_bad_input(interview):
    demo, _ = interview
    assess = _handler(demo, "assess_profile_form")
    previous = {"name": "earlier"}
    form = profile_to_form(Profile())
    clash = dict(form, public_service=True, internal_only=True)
    risk, report, report_file, profile_file, state = assess("en", "", previous, *_args(clash))
    assert risk.startswith("⚠️") and "public_service and internal_only cannot both be true" in _shown(risk)
    assert "\n" not in risk and "valid fields" not in risk
    assert "Compliance assessment" not in report
    assert report_file["interactive"] is False and profile_file["interactive"] is False and state == previous
    risk, *_, state = assess("en", "2025-13-45", previous, *_args(dict(form, public_service=True)))
    assert "YYYY-MM-DD" in risk and state == previous
    risk, *_ = assess("en", "", None, *_args(dict(form, users=-5)))
    assert "users" in risk and risk.startswith("⚠️")


def _shown(markdown: str) -> str:
    """Markdown text as shown (backslash escapes of user-supplied text removed)."""
    return re.sub(r"\\(.)", r"\1", markdown)


@pytest.fixture
def uploaded():
    """Copies files into Gradio's upload folder, where an upload puts them (only such files are read)."""
    from gradio import utils

    folder = Path(utils.get_upload_folder()) / f"advisor-test-{uuid.uuid4().hex[:8]}"

    def upload(path: Path) -> str:
        target = folder / uuid.uuid4().hex[:8]
        target.mkdir(parents=True)
        return str(shutil.copy(path, target / path.name))

    yield upload
    shutil.rmtree(folder, ignore_errors=True)


def test_upload_fills_the_form_or_explains(interview, tmp_path, uploaded):
    _uploaded = uploaded
    demo, _ = interview
    load = _handler(demo, "load_profile_file")
    fields = form_fields()
    profile = load_profile(PROFILES / "kids-edu-app.yaml")
    assert "only a file uploaded here" in load(str(PROFILES / "kids-edu-app.yaml"), None)[-2]  # a server path: not read
    *values, message, state = load(_uploaded(PROFILES / "kids-edu-app.yaml"), None)
    assert values == _args(profile_to_form(profile))
    assert "kids-edu-app.yaml" in message and state == profile_dict(profile)
    as_json = tmp_path / "shop.json"
    as_json.write_text(json.dumps({"public_service": True, "features": {"generative_image": True}}), encoding="utf-8")
    *values, message, state = load(_uploaded(as_json), None)
    assert dict(zip((f.path for f in fields), values))["features.generative_image"] is True
    assert state == {"name": "shop", "public_service": True, "features": {"generative_image": True}}
    for text, says in (("public_service: [unclosed\n", "not valid YAML"), ("colour: blue\n", "unknown field 'colour'"),
                       ("- a list\n", "expected a mapping")):
        bad = tmp_path / "bad.yaml"
        bad.write_text(text, encoding="utf-8")
        *values, message, state = load(_uploaded(bad), {"name": "kept"})
        assert all(v == {"__type__": "update"} for v in values), "the form must stay untouched"
        assert message.startswith("⚠️") and says in message and state == {"name": "kept"}
    assert load(None, None)[-2:] == ["", None]


def test_the_app_has_the_interview_tab(advisor):
    from advisor.present.chat_ui import build_ui

    demo = build_ui(advisor)
    ids = {getattr(b, "elem_id", None) for b in demo.blocks.values()}
    assert {"assess", "assess-lang", "assess-as-of", "assessment", "assessment-risk", "assessment-download",
            "profile-download", "profile-upload", "profile-status", "tab-ask", "tab-assess"} <= ids
    assert {f.elem_id for f in form_fields()} <= ids
    assert {"question", "submit", "chatbot", "citations", "download"} <= ids
    labels = [getattr(b, "label", None) for b in demo.blocks.values() if isinstance(b, gr.Tab)]
    assert labels == ["Ask · 提问", "Assess my business · 合规评估", "Workspace · 合规工作台"]
