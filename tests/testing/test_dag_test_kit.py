"""The one-fixture DAG test kit (``isendpro_dag_test``): a DAG object or file, run, read back."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from airflow_provider_isendpro.testing.dagtest import DagTestKit, load_dag

pytestmark = pytest.mark.integration

DAG_FILE = """
import pendulum
from airflow.sdk import DAG, task
from airflow_provider_isendpro.operators.sms import SendSmsOperator

with DAG("kit_file_dag", schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC")):
    @task(pool="kit_pool")
    def numbers():
        return ["06 12 34 56 78", "06 00 00 00 11"]

    SendSmsOperator(task_id="send", recipients=numbers(), text="Bonjour", on_rejected="warn")
"""


def test_a_dag_object_runs_and_reports_states_xcoms_and_sms(isendpro_dag_test: DagTestKit) -> None:
    import pendulum
    from airflow.sdk import DAG, task

    from airflow_provider_isendpro.operators.sms import SendSmsOperator

    with DAG("kit_object_dag", schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC")) as dag:

        @task
        def who() -> str:
            return "06 12 34 56 78"

        SendSmsOperator(task_id="send", recipients=who(), text="Rapport prêt", transliterate=True)

    result = isendpro_dag_test.run(dag)

    assert (result.dag_id, result.state) == ("kit_object_dag", "success")
    assert result.task_states == {"who": "success", "send": "success"}
    assert result.xcoms["who"] == "06 12 34 56 78"
    assert result.xcoms["send"]["counts"]["sent"] == 1
    assert [(s.tel, s.text, s.segments) for s in result.sms] == [("0612345678", "Rapport pret", 1)]
    assert [r.path for r in result.requests] == ["/sms"]


def test_a_dag_file_runs_with_its_pool_created(isendpro_dag_test: DagTestKit, tmp_path: Path) -> None:
    from airflow.models.pool import Pool

    path = tmp_path / "kit_file_dag.py"
    path.write_text(DAG_FILE, encoding="utf-8")

    result = isendpro_dag_test.run(str(path))

    assert result.state == "success"
    assert result.task_states == {"numbers": "success", "send": "success"}
    assert result.xcoms["send"]["counts"]["sent"] == 1
    assert result.xcoms["send"]["counts"]["rejected"] == 1
    assert [s.tel for s in result.sms] == ["0612345678"]
    pool = Pool.get_pool("kit_pool")
    assert pool is not None and pool.slots == 16


def test_a_second_run_reports_only_its_own_sms(isendpro_dag_test: DagTestKit, tmp_path: Path) -> None:
    path = tmp_path / "kit_file_dag.py"
    path.write_text(DAG_FILE, encoding="utf-8")
    first = isendpro_dag_test.run(path)
    second = isendpro_dag_test.run(path, pools={"kit_pool": 2})
    assert first.run_id != second.run_id
    assert [s.tel for s in first.sms] == [s.tel for s in second.sms] == ["0612345678"]
    assert len(isendpro_dag_test.emulator.sent) == 2


FAILING_DAG = """
import pendulum
from airflow.sdk import DAG, task
from airflow_provider_isendpro.notifications.sms import IsendproNotifier

with DAG("kit_failing_dag", schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
         default_args={"on_failure_callback": IsendproNotifier(to="06 12 34 56 78")}):
    @task
    def load():
        raise ValueError("bad row 42")

    load()
"""


def test_each_run_starts_with_empty_markers_and_throttle_windows(
    isendpro_dag_test: DagTestKit, tmp_path: Path
) -> None:
    path = tmp_path / "kit_failing_dag.py"
    path.write_text(FAILING_DAG, encoding="utf-8")

    first = isendpro_dag_test.run(path)
    second = isendpro_dag_test.run(path)  # the first run's throttle window does not hold this alert

    for result in (first, second):
        assert (result.state, result.task_states) == ("failed", {"load": "failed"})
        assert [s.tel for s in result.sms] == ["0612345678"]
    assert first.ledger_path != second.ledger_path
    assert first.ledger_path.startswith(str(tmp_path))


def test_runs_given_one_ledger_share_its_throttle_window(
    isendpro_dag_test: DagTestKit, tmp_path: Path
) -> None:
    path = tmp_path / "kit_failing_dag.py"
    path.write_text(FAILING_DAG, encoding="utf-8")
    shared = tmp_path / "shared-ledger"

    first = isendpro_dag_test.run(path, ledger_path=shared)
    second = isendpro_dag_test.run(path, ledger_path=shared)

    assert [s.tel for s in first.sms] == ["0612345678"]
    assert second.sms == []  # held back by the window the first run opened (throttle="10m")
    assert first.ledger_path == second.ledger_path == str(shared)


def test_a_failed_task_s_exception_is_in_the_result(isendpro_dag_test: DagTestKit, tmp_path: Path) -> None:
    path = tmp_path / "kit_failing_dag.py"
    path.write_text(FAILING_DAG, encoding="utf-8")

    result = isendpro_dag_test.run(path)

    assert list(result.failures) == ["load"]
    failure = result.failures["load"]
    assert (failure.task, failure.try_number) == ("load", 1)
    assert (failure.exception_type, failure.message) == ("ValueError", "bad row 42")
    assert str(failure) == "load (try 1): ValueError: bad row 42"
    tail = failure.log_tail.splitlines()
    logged = tail.index("[error] Task failed with exception")  # the traceback follows the line logging it
    assert tail[logged + 1] == "Traceback (most recent call last):"
    end = tail.index("ValueError: bad row 42")
    assert tail[end - 1] == '    raise ValueError("bad row 42")'
    assert "[info] iSendPro alert sent to 06****5678 via connection 'isendpro_default'" in "\n".join(
        tail[end:]
    )  # then the try's callback
    assert isinstance(failure.exception, ValueError)


def test_a_successful_run_has_no_failures(isendpro_dag_test: DagTestKit, tmp_path: Path) -> None:
    path = tmp_path / "kit_file_dag.py"
    path.write_text(DAG_FILE, encoding="utf-8")
    assert isendpro_dag_test.run(path).failures == {}


def test_load_dag_says_what_is_wrong(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"DAG file '.*nope\.py' does not exist"):
        load_dag(tmp_path / "nope.py")
    broken = tmp_path / "broken.py"
    broken.write_text("import not_a_module_anywhere\n", encoding="utf-8")
    with pytest.raises(RuntimeError, match=r"broken\.py failed to import:\n(.|\n)*not_a_module_anywhere"):
        load_dag(broken)
    two = tmp_path / "two.py"
    two.write_text(
        "from airflow.sdk import DAG\na = DAG('a', schedule=None)\nb = DAG('b', schedule=None)\n",
        encoding="utf-8",
    )
    with pytest.raises(LookupError, match=r"defines 2 DAGs \['a', 'b'\]: pass dag_id="):
        load_dag(two)
    with pytest.raises(LookupError, match=r"defines no DAG 'c'; it defines \['a', 'b'\]"):
        load_dag(two, dag_id="c")
    assert load_dag(two, dag_id="b").dag_id == "b"


def test_without_the_ini_option_the_fixture_refuses(tmp_path: Path) -> None:
    """A user's project without ``isendpro_airflow_home``: no DB is touched, the failure says what to add."""
    (tmp_path / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
    (tmp_path / "test_user.py").write_text(
        textwrap.dedent(
            """
            def test_it(isendpro_dag_test):
                raise AssertionError("never reached")
            """
        ),
        encoding="utf-8",
    )
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_user.py"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 1, done.stdout + done.stderr
    assert "add 'isendpro_airflow_home = isolated' to your pytest configuration" in done.stdout
    assert "never reached" not in done.stdout


def test_an_unknown_ini_value_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "pytest.ini").write_text("[pytest]\nisendpro_airflow_home = temp\n", encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 4
    assert "isendpro_airflow_home = 'temp': use 'isolated' or 'keep'" in done.stderr


def test_isolated_mode_never_points_at_the_environment_s_db(tmp_path: Path) -> None:
    """A user's shell may name a real DB: the isolated home replaces it before Airflow reads its config."""
    (tmp_path / "pytest.ini").write_text("[pytest]\nisendpro_airflow_home = isolated\n", encoding="utf-8")
    (tmp_path / "test_home.py").write_text(
        textwrap.dedent(
            """
            import os

            def test_home():
                from airflow.configuration import conf

                home = os.environ["AIRFLOW_HOME"]
                assert os.path.basename(home).startswith("isendpro-airflow-home-")
                assert conf.get("database", "sql_alchemy_conn") == f"sqlite:///{home}/airflow.db"
                assert "AIRFLOW_CONFIG" not in os.environ
            """
        ),
        encoding="utf-8",
    )
    precious = tmp_path / "precious"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")},
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{precious}/airflow.db",
        "AIRFLOW_CONFIG": str(precious / "airflow.cfg"),
        "AIRFLOW_HOME": str(precious),
    }
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_home.py"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert not precious.exists()


def test_isolated_mode_refuses_when_airflow_is_already_imported(tmp_path: Path) -> None:
    (tmp_path / "pytest.ini").write_text("[pytest]\nisendpro_airflow_home = isolated\n", encoding="utf-8")
    (tmp_path / "conftest.py").write_text("import airflow.configuration\n", encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 4, done.stdout + done.stderr
    assert "Airflow was imported before the plugin could set AIRFLOW_HOME" in done.stderr
