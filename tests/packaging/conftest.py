"""Build the sdist and the wheel once per session, as a release would (``python -m build``)."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from dataclasses import dataclass
from email.message import Message
from email.parser import Parser
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Dist:
    sdist: Path
    wheel: Path

    def wheel_names(self) -> list[str]:
        with zipfile.ZipFile(self.wheel) as archive:
            return archive.namelist()

    def wheel_text(self, name: str) -> str:
        with zipfile.ZipFile(self.wheel) as archive:
            return archive.read(name).decode()

    def metadata(self) -> Message:
        [name] = [n for n in self.wheel_names() if n.endswith(".dist-info/METADATA")]
        return Parser().parsestr(self.wheel_text(name))


@pytest.fixture(scope="session")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Dist:
    """sdist, then the wheel built from that sdist (so a file missing from the sdist breaks the wheel).

    ``--no-isolation``: the build backend (hatchling, in the ``test`` extra and the locks) comes from this
    venv, so the build needs no download.
    """
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out), str(ROOT)],
        check=True,
        capture_output=True,
        text=True,
    )
    [sdist] = out.glob("*.tar.gz")
    [wheel] = out.glob("*.whl")
    return Dist(sdist, wheel)
