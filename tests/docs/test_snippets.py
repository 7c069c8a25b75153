"""Every code block a reader may copy from README.md and docs/*.md runs as written.

- Each ``python`` block runs, unless marked ``<!-- fragment -->`` (see ``snippets.py`` for why fragments
  exist). It is imported as a DAG file: a block that defines DAGs must be named
  (``<!-- snippet: NAME -->``) and listed in ``EXPECTATIONS``; each of its DAGs runs with ``dag.test()``
  against the emulator, and the run state, task states and every SMS the emulator accepted are compared
  with the table. Other blocks just have to run. A new unmarked block that fails, fails this test.
- Shell blocks that set the connection (``export AIRFLOW_CONN_...``, JSON and URI forms) give the
  documented configuration, and reach the emulator once pointed at it; ``export AIRFLOW_VAR_...`` lines
  are applied to the DAG runs (the notifier snippet reads a Variable).
- The tutorial runs as a reader types it (emulator CLI, shell blocks, ``airflow dags test``, ``sent``),
  and prints exactly the banner, request log and SMS listing the README shows.
"""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_isendpro.testing.dagtest import DagTestKit
from tests.dagruns import ended_at
from tests.docs.snippets import ROOT, Block, all_blocks, named_block, shell_exports

pytestmark = pytest.mark.integration

LOGICAL_DATE = datetime(2026, 1, 2, tzinfo=timezone.utc)
README_MAX_LINES = 350


@dataclass(frozen=True)
class Expect:
    """What a named DAG block's run must end with; ``sms`` is ``(tel, text, sender)`` in order."""

    sms: list[tuple[str, str, str | None]]
    state: str = "success"
    task_states: dict[str, str] | None = None
    xcoms: dict[str, Any] = field(default_factory=dict)


REPORT = "Le rapport du 2026-01-02 est disponible."
EXPECTATIONS: dict[str, Expect] = {
    "first-dag": Expect(sms=[("0612345678", REPORT, "ACME"), ("262692123456", REPORT, "ACME")]),
    "personalised": Expect(
        sms=[
            ("0612345678", "Bonjour Alice, votre RDV de demain est confirmé.", "AGENCE"),
            ("0698765432", "Bonjour Gaetan, votre RDV de demain est confirmé.", "AGENCE"),
        ]
    ),
    "oncall-alert": Expect(
        state="failed",
        task_states={"load": "failed"},
        sms=[
            (
                "0612345678",
                "[Airflow] etl_sales.load failed (try 1/1) at {ended:load}: ValueError: bad row 42",
                None,
            )
        ],
    ),
    "custom-task": Expect(
        sms=[("0612345678", "Bravo, vous avez gagné !", "ACME")],
        xcoms={"text_the_winner": {"accepted": 1, "rejected": []}},
    ),
    # docs/receipts.md: the maintenance DAG purges receipts older than 30 days (none in a fresh ledger)
    "receipts-purge": Expect(sms=[], xcoms={"purge_receipts": 0}),
}
#: Named blocks that define no DAG, and the test that uses them.
NAMED_ELSEWHERE = {
    "user-test": "test_user_test_from_wheel.py",
    "user-pytest-ini": "test_user_test_from_wheel.py",
    **dict.fromkeys(
        ["tutorial-emulator", "tutorial-setup", "tutorial-run", "tutorial-sent"], "the tutorial test"
    ),
}


def _python_blocks() -> list[Block]:
    return [b for b in all_blocks() if b.lang == "python" and not b.fragment]


def _exports(prefix: str) -> list[tuple[Block, str, str]]:
    return [
        (block, name, value)
        for block in all_blocks()
        if block.lang in ("bash", "sh", "shell")
        for name, value in shell_exports(block)
        if name.startswith(prefix)
    ]


@pytest.fixture(scope="module")
def snippet_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One file per block, the same path for every test (one serialised version per DAG)."""
    return tmp_path_factory.mktemp("snippets")


def _file_for(block: Block, directory: Path) -> Path:
    stem = block.named("snippet") or f"{block.path.stem}_{block.line}"
    path = directory / f"snippet_{re.sub(r'[^0-9A-Za-z]+', '_', stem)}.py"
    path.write_text(block.code, encoding="utf-8")
    return path


def _import(path: Path) -> dict[str, Any]:
    """Import a block as a DAG file; its exception, if any, fails the test with the traceback."""
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(path), safe_mode=False)
    assert not bag.import_errors, "\n".join(bag.import_errors.values())
    return dict(bag.dags)


def run_block(block: Block, kit: DagTestKit, directory: Path) -> None:
    """Run one block as the module docstring says; raises AssertionError when it does not hold."""
    dags = _import(_file_for(block, directory))
    name = block.named("snippet")
    if not dags:
        return
    assert name in EXPECTATIONS, (
        f"{block.where} defines DAGs {sorted(dags)}: mark it <!-- snippet: NAME --> and add NAME to "
        "EXPECTATIONS in tests/docs/test_snippets.py with the SMS it must send (or <!-- fragment -->)"
    )
    expect = EXPECTATIONS[name]
    for dag in dags.values():
        result = kit.run(dag, logical_date=LOGICAL_DATE)
        assert result.state == expect.state, f"{block.where}: {result.task_states}"
        if expect.task_states is not None:
            assert result.task_states == expect.task_states
        for task_id, value in expect.xcoms.items():
            assert result.xcoms[task_id] == value
        # "{ended:load}": when that task failed, as the alert writes it (issue 20: not the logical date)
        texts = []
        for i, (tel, expected, sender) in enumerate(expect.sms):
            text = expected
            seen = result.sms[i].text if i < len(result.sms) else ""
            for task_id in re.findall(r"\{ended:(\w+)\}", expected):
                when = ended_at(result.dag_run, task_id, seen=seen)
                text = text.replace(f"{{ended:{task_id}}}", when)
            texts.append((tel, text, sender))
        assert [(s.tel, s.text, s.sender) for s in result.sms] == texts


@pytest.fixture
def doc_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    """The Variables the docs tell the reader to create (``export AIRFLOW_VAR_...``)."""
    for _block, name, value in _exports("AIRFLOW_VAR_"):
        monkeypatch.setenv(name, value)


@pytest.mark.parametrize("block", _python_blocks(), ids=lambda b: f"{b.where}:{b.named('snippet') or '-'}")
def test_python_block_runs(
    block: Block, isendpro_dag_test: DagTestKit, snippet_dir: Path, doc_variables: None
) -> None:
    run_block(block, isendpro_dag_test, snippet_dir)


def test_a_new_block_that_does_not_run_fails(isendpro_dag_test: DagTestKit, tmp_path: Path) -> None:
    broken = Block(ROOT / "README.md", 1, "python", "raise RuntimeError('not runnable')\n", None)
    with pytest.raises(AssertionError, match="RuntimeError: not runnable"):
        run_block(broken, isendpro_dag_test, tmp_path)
    unnamed_dag = Block(
        ROOT / "README.md",
        2,
        "python",
        "from airflow.sdk import DAG\nwith DAG('x', schedule=None):\n    pass\n",
        None,
    )
    with pytest.raises(AssertionError, match=r"defines DAGs \['x'\]: mark it <!-- snippet: NAME -->"):
        run_block(unnamed_dag, isendpro_dag_test, tmp_path)


def test_every_name_is_used_once() -> None:
    names = [b.named("snippet") for b in all_blocks() if b.named("snippet")]
    assert sorted(names) == sorted(set(names)), "a snippet name is used twice"
    assert set(names) == set(EXPECTATIONS) | set(NAMED_ELSEWHERE)


@pytest.mark.parametrize(
    ("block", "name", "value"),
    _exports("AIRFLOW_CONN_"),
    ids=lambda v: v.where if isinstance(v, Block) else "",
)
def test_connection_exports_configure_and_connect(
    block: Block, name: str, value: str, isendpro_emulator: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow_provider_isendpro.hooks.isendpro import IsendproHook

    conn_id = name.removeprefix("AIRFLOW_CONN_").lower()
    monkeypatch.setenv(name, value)
    hook = IsendproHook(conn_id)
    assert (hook.config.base_url, hook.config.api_key) == (
        "https://apirest.isendpro.com/cgi-bin",
        "YOUR-KEYID",
    )
    assert (hook.default_sender, hook.config.read_timeout) == ("ACME", 30.0)

    emu = isendpro_emulator
    local = value.replace("https://apirest.isendpro.com/cgi-bin", emu.base_url)
    local = local.replace("apirest.isendpro.com/cgi-bin", f"127.0.0.1:{emu.port}/cgi-bin")
    monkeypatch.setenv(name, local.replace("YOUR-KEYID", emu.api_key))
    assert IsendproHook(conn_id).test_connection() == (
        True,
        "Connected to iSendPro: credit 100.00 EUR (about 2000 SMS to France)",
    )


def test_both_connection_forms_are_documented() -> None:
    values = [value for _block, _name, value in _exports("AIRFLOW_CONN_")]
    assert any(v.startswith("{") for v in values) and any(v.startswith("isendpro://") for v in values)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _text(name: str, port: int) -> list[str]:
    return named_block("output", name).code.replace(":8025", f":{port}").splitlines()


def test_tutorial_runs_as_written_and_prints_what_it_shows(tmp_path: Path) -> None:
    """Steps 1-5 pasted into fresh shells: ``env -i`` with only HOME and PATH, in a directory outside the
    repository; the emulator CLI, the shell blocks, the Airflow CLI, ``sent``.

    Only the port (a free one, not 8025) and ``~`` (a temporary home, whose ``airflow-provider-isendpro``
    clone holds the ``.venv`` running this test) differ from the README.
    """
    port = _free_port()

    def as_here(text: str) -> str:
        return text.replace(":8025", f":{port}").replace("--port 8025", f"--port {port}")

    home, ready, outside = tmp_path / "home", tmp_path / "ready", tmp_path / "elsewhere"
    (home / "airflow-provider-isendpro").mkdir(parents=True)
    (home / "airflow-provider-isendpro" / ".venv").symlink_to(Path(sys.prefix), target_is_directory=True)
    outside.mkdir()
    assert (Path(sys.prefix) / "bin" / "activate").is_file(), "run the tests from a virtual environment"
    fresh_shell = ["env", "-i", f"HOME={home}", "PATH=/usr/bin:/bin", "bash", "-c"]
    *first, start = as_here(named_block("snippet", "tutorial-emulator").code).rstrip("\n").splitlines()
    emulator_script = "\n".join(["set -eu", *first, f"exec {start} --ready-file {ready}"])
    proc = subprocess.Popen([*fresh_shell, emulator_script], stdout=subprocess.PIPE, text=True, cwd=outside)
    try:
        deadline = time.monotonic() + 60
        while not ready.exists():  # bounded poll of a file the CLI writes atomically once listening
            assert proc.poll() is None and time.monotonic() < deadline, "the emulator did not start"
            time.sleep(0.02)
        assert proc.stdout is not None
        banner = [proc.stdout.readline().rstrip("\n") for _ in range(6)]
        assert banner == _text("emulator-banner", port)
        [pasted] = [line.strip() for line in banner if line.lstrip().startswith("export ")]

        setup = named_block("snippet", "tutorial-setup").code
        dag_file = home / "isendpro-tutorial" / "dags" / "first_sms.py"
        first_dag = named_block("snippet", "first-dag").code
        script = "\n".join(
            [
                "set -euo pipefail",
                setup,  # step 2 in a new terminal: activate, then paste the export line
                pasted,
                f"cat > ~/isendpro-tutorial/dags/first_sms.py <<'EOF'\n{first_dag}EOF",
                named_block("snippet", "tutorial-run").code,
                as_here(named_block("snippet", "tutorial-sent").code),
            ]
        )
        done = subprocess.run(
            [*fresh_shell, script], cwd=outside, capture_output=True, text=True, timeout=600, check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        assert dag_file.is_file()
        assert "state=success" in done.stdout + done.stderr
        sent_lines = _text("emulator-sent", port)
        assert done.stdout.splitlines()[-len(sent_lines) :] == sent_lines
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
        assert proc.stdout.read().splitlines() == _text("emulator-log", port)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
        if proc.stdout:
            proc.stdout.close()


def test_readme_is_short_and_states_the_version_once() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(readme.splitlines()) <= README_MAX_LINES
    assert "<!-- support-table:start -->" in readme and "<!-- support-table:end -->" in readme
    outside_table = re.sub(
        r"<!-- support-table:start -->.*<!-- support-table:end -->", "", readme, flags=re.S
    )
    assert not re.search(r"tested on|Python 3\.\d+\+|Airflow 3\.\d+ or later", outside_table)


def test_relative_links_point_at_files() -> None:
    missing = []
    for path in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for target in re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", path.read_text(encoding="utf-8")):
            resolved = (path.parent / target).resolve()
            if not resolved.exists():
                missing.append(f"{path.relative_to(ROOT)} -> {target}")
    assert missing == []
