"""A built wheel (not an editable install) is a working advisor: corpus, obligations and prompts inside it,
`advisor ingest` and `advisor ask` from any folder (issue 12, packaging)."""

from __future__ import annotations

import os
import shutil
import site
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from advisor.settings import PROJECT_ROOT

QUESTION = "Do AI-generated images need a label?"


def _source_copy(target: Path) -> Path:
    """The project's files as a clean clone would have them (tracked and new, not ignored)."""
    listed = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=PROJECT_ROOT,
                            capture_output=True, text=True, check=True).stdout.split("\n")
    for name in filter(None, listed):
        source = PROJECT_ROOT / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    return target


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    if shutil.which("git") is None or not (PROJECT_ROOT / ".git").exists():
        pytest.skip("needs the git checkout to copy the sources from")
    source = _source_copy(tmp_path_factory.mktemp("src"))
    out = tmp_path_factory.mktemp("dist")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation", "-w", str(out),
                    str(source)], check=True, capture_output=True, text=True, timeout=300)
    (built,) = out.glob("china_ai_advisor-*.whl")
    return built


def test_the_wheel_carries_every_corpus_obligation_and_prompt_file(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    for folder in ("corpus", "prompts"):
        shipped = {p.relative_to(PROJECT_ROOT).as_posix() for p in (PROJECT_ROOT / folder).rglob("*")
                   if p.is_file() and "__pycache__" not in p.parts}
        assert shipped and {f"advisor/_data/{name}" for name in shipped} <= names
    assert any(n.startswith("advisor/_data/corpus/obligations/") for n in names)


def test_an_installed_wheel_answers_from_any_folder(wheel, tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--no-deps", "--no-index", str(wheel)],
                   check=True, capture_output=True, text=True, timeout=300)
    # the dependencies come from this environment (no downloads), the advisor itself only from the wheel
    purelib = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                  capture_output=True, text=True, check=True).stdout.strip())
    deps = [sysconfig.get_paths()["purelib"], *site.getsitepackages()]
    (purelib / "zz_project_dependencies.pth").write_text("\n".join(dict.fromkeys(deps)) + "\n")

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ADVISOR_") and k != "PYTHONPATH"}
    env.update(ADVISOR_DATA_DIR=str(tmp_path / "data"), HF_HUB_OFFLINE="1", COLUMNS="200")
    advisor = str(venv / "bin" / "advisor")

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([advisor, *args], cwd=elsewhere, env=env, capture_output=True, text=True, timeout=600)

    where = subprocess.run([str(python), "-c", "import advisor, advisor.settings as s; print(advisor.__file__); "
                            "print(s.load_settings().corpus_dir); print(s.load_settings().prompts_dir)"],
                           cwd=elsewhere, env=env, capture_output=True, text=True, check=True).stdout.split("\n")
    assert all(line.startswith(str(venv)) for line in where[:3]), where  # the wheel's code and data, not the checkout's
    checked = run("corpus", "check")
    assert checked.returncode == 0 and "corpus OK" in checked.stdout, checked.stderr
    ingested = run("ingest")
    assert ingested.returncode == 0, ingested.stderr
    answer = run("ask", QUESTION)
    assert answer.returncode == 0, answer.stderr
    assert "《生成式人工智能服务管理暂行办法》第十二条" in answer.stdout
    templates = run("templates")
    assert "roadmap" in templates.stdout and "business_description" in templates.stdout
    assessed = run("assess", "--profile", str(PROJECT_ROOT / "tests" / "profiles" / "public-chatbot.yaml"))
    assert assessed.returncode == 0 and "Risk level" in assessed.stdout, assessed.stderr
