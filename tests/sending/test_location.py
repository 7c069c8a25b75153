"""Where the ledger lives, and the refusal of a local ledger under an executor that spans machines."""

from __future__ import annotations

import os

import pytest

from airflow_provider_isendpro.errors import IsendproConfigError
from airflow_provider_isendpro.sending.location import (
    LedgerLocation,
    remote_executors,
    require_shared_ledger,
    resolve_ledger,
)


@pytest.fixture(autouse=True)
def _no_isendpro_config(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [n for n in os.environ if n.startswith("AIRFLOW__ISENDPRO__")]:
        monkeypatch.delenv(name)


def test_the_default_is_under_airflow_home_and_says_so() -> None:
    location = resolve_ledger()
    assert location.root == os.path.join(os.environ["AIRFLOW_HOME"], "isendpro", "ledger")
    assert location.origin == "the default ($AIRFLOW_HOME/isendpro/ledger)"
    assert location.is_local and location.conn_id is None and not location.declared_shared


def test_configuration_then_task_parameters_win(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW__ISENDPRO__LEDGER_PATH", "s3://bucket/ledger")
    monkeypatch.setenv("AIRFLOW__ISENDPRO__LEDGER_CONN_ID", "aws_default")
    configured = resolve_ledger()
    assert (configured.root, configured.conn_id, configured.origin) == (
        "s3://bucket/ledger", "aws_default", "[isendpro] ledger_path",
    )  # fmt: skip
    assert not configured.is_local
    own = resolve_ledger("gs://other/ledger", "google_cloud_default")
    assert (own.root, own.conn_id, own.origin) == (
        "gs://other/ledger", "google_cloud_default", "the task's ledger_path parameter",
    )  # fmt: skip


def test_file_urls_are_local_and_child_keeps_everything() -> None:
    location = LedgerLocation("file:///srv/ledger", "c", "x", declared_shared=True)
    assert location.is_local
    assert location.child("_notifier") == LedgerLocation("file:///srv/ledger/_notifier", "c", "x", True)


@pytest.mark.parametrize(
    ("executor", "remote"),
    [
        ("LocalExecutor", []),
        ("SequentialExecutor", []),
        ("CeleryExecutor", ["CeleryExecutor"]),
        ("LocalExecutor,CeleryExecutor", ["CeleryExecutor"]),
        (
            "airflow.providers.cncf.kubernetes.executors.kubernetes_executor.KubernetesExecutor",
            ["airflow.providers.cncf.kubernetes.executors.kubernetes_executor.KubernetesExecutor"],
        ),
        (
            "edge:airflow.providers.edge3.executors.EdgeExecutor",
            ["edge:airflow.providers.edge3.executors.EdgeExecutor"],
        ),
        ("my_company.executors.BatchExecutor", ["my_company.executors.BatchExecutor"]),
    ],
)
def test_remote_executors_include_hybrids_aliases_and_third_party_ones(
    monkeypatch: pytest.MonkeyPatch, executor: str, remote: list[str]
) -> None:
    monkeypatch.setenv("AIRFLOW__CORE__EXECUTOR", executor)
    assert remote_executors() == remote


def test_a_local_ledger_under_celery_is_refused_with_the_setting_to_change() -> None:
    location = resolve_ledger()
    with pytest.raises(IsendproConfigError) as caught:
        require_shared_ledger(location, "SendSmsOperator", ["LocalExecutor", "CeleryExecutor"])
    assert caught.value.message == (
        f"SendSmsOperator refuses to run: its send ledger is on this worker's local disk ({location.root}, "
        "from the default ($AIRFLOW_HOME/isendpro/ledger)) but [core] executor = CeleryExecutor may run a "
        "retry on another machine, which would not see what was already sent and would text people twice. "
        "Point [isendpro] ledger_path at storage every worker reaches, for example:\n"
        "[isendpro]\nledger_path = s3://my-bucket/isendpro-ledger\nledger_conn_id = aws_default\n"
        "(or AIRFLOW__ISENDPRO__LEDGER_PATH=s3://my-bucket/isendpro-ledger)\n"
        "If that folder is a shared volume (NFS, EFS) mounted on every worker, set "
        "[isendpro] ledger_is_shared = True instead."
    )


def test_object_storage_or_a_declared_shared_volume_is_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    require_shared_ledger(resolve_ledger("s3://bucket/ledger"), "SendSmsOperator", ["CeleryExecutor"])
    require_shared_ledger(resolve_ledger(), "SendSmsOperator", ["LocalExecutor"])
    monkeypatch.setenv("AIRFLOW__ISENDPRO__LEDGER_PATH", "/mnt/efs/ledger")
    monkeypatch.setenv("AIRFLOW__ISENDPRO__LEDGER_IS_SHARED", "True")
    shared = resolve_ledger()
    assert shared.declared_shared and shared.root == "/mnt/efs/ledger"
    require_shared_ledger(shared, "SendSmsOperator", ["CeleryExecutor"])
