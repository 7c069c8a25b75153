"""Code blocks of README.md and docs/*.md, with the marker comment on the line before each.

Markers (an HTML comment alone on the line right before the opening fence, blank lines allowed between):

- ``<!-- fragment -->``: an excerpt that cannot run alone (``...`` placeholders, a parameter list, an
  XCom shape, an operator without its DAG). Fragments exist because reference pages show parts of a
  DAG; everything a reader is meant to copy and run must NOT be a fragment.
- ``<!-- snippet: NAME -->``: a runnable block the tests know by name (expected SMS, reused files).
- ``<!-- output: NAME -->``: program output the tests compare with what the program prints.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
_FENCE = re.compile(r"^(\s*)```(\w*)\s*$")
_MARKER = re.compile(r"^\s*<!--\s*(.+?)\s*-->\s*$")


@dataclass(frozen=True)
class Block:
    path: Path
    line: int
    """1-based line of the opening fence."""
    lang: str
    code: str
    marker: str | None

    @property
    def where(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"

    @property
    def fragment(self) -> bool:
        return self.marker == "fragment"

    def named(self, kind: str) -> str | None:
        """``NAME`` of a ``<!-- kind: NAME -->`` marker."""
        if self.marker and self.marker.startswith(f"{kind}:"):
            return self.marker.split(":", 1)[1].strip()
        return None


def doc_files() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def blocks(path: Path) -> list[Block]:
    lines = path.read_text(encoding="utf-8").splitlines()
    found: list[Block] = []
    i = 0
    while i < len(lines):
        opening = _FENCE.match(lines[i])
        if opening is None:
            i += 1
            continue
        indent, lang = len(opening.group(1)), opening.group(2)
        j = i + 1
        while j < len(lines) and not re.match(r"^\s*```\s*$", lines[j]):
            j += 1
        if j == len(lines):
            raise AssertionError(f"{path.name}:{i + 1}: code block never closed")
        code = "\n".join(line[indent:] for line in lines[i + 1 : j]) + "\n"
        k = i - 1
        while k >= 0 and not lines[k].strip():
            k -= 1
        marker = _MARKER.match(lines[k]) if k >= 0 else None
        found.append(Block(path, i + 1, lang, code, marker.group(1) if marker else None))
        i = j + 1
    return found


def all_blocks() -> list[Block]:
    return [block for path in doc_files() for block in blocks(path)]


def named_block(kind: str, name: str) -> Block:
    matches = [b for b in all_blocks() if b.named(kind) == name]
    if len(matches) != 1:
        raise AssertionError(f"expected one <!-- {kind}: {name} --> block in the docs, found {len(matches)}")
    return matches[0]


def shell_exports(block: Block) -> list[tuple[str, str]]:
    """``(NAME, value)`` of every ``export NAME=value`` in a shell block (quotes and comments removed)."""
    exports = []
    for line in block.code.splitlines():
        words = shlex.split(line, comments=True)
        if words[:1] == ["export"]:
            exports += [tuple(word.split("=", 1)) for word in words[1:] if "=" in word]  # type: ignore[misc]
    return exports
