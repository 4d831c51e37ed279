"""Build step only (all metadata is in pyproject.toml): the wheel carries the corpus and the prompts.

corpus/ (instruments, obligations, annotations, whatever other folders it gains) and prompts/ are copied
whole into the built package as advisor/_data/corpus and advisor/_data/prompts, so `pip install` of the
wheel gives an advisor that works from any folder; in a checkout, settings use the folders beside the
source tree instead (advisor.settings.data_path).
"""

from pathlib import Path
import shutil

from setuptools import setup
from setuptools.command.build_py import build_py

DATA_FOLDERS = ("corpus", "prompts")
ROOT = Path(__file__).resolve().parent


class build_py_with_data(build_py):
    def run(self) -> None:
        super().run()
        for name in DATA_FOLDERS:
            source, target = ROOT / name, Path(self.build_lib) / "advisor" / "_data" / name
            if not source.is_dir():
                raise SystemExit(f"cannot build: the {name}/ folder is missing from {ROOT}")
            if target.exists():
                shutil.rmtree(target)
            shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", ".*"))


setup(cmdclass={"build_py": build_py_with_data})
