"""Every example DAG parses cleanly, quickly and without touching the network (AIRFLOW-NOTES §10.6)."""

from __future__ import annotations

import socket
from typing import Any

import pendulum
import pytest

from tests.examples.conftest import EXAMPLES

EXAMPLE_DAGS = {
    "isendpro_alerting",
    "isendpro_credit_monitoring",
    "isendpro_campaign",
    "isendpro_scheduled_send",
    "isendpro_bulk_mapped",
    "isendpro_alert_storm",
    "isendpro_mapped_reminders",
    "isendpro_delivery_receipts",
}


def test_every_example_imports_without_errors(example_bag: Any) -> None:
    assert not example_bag.import_errors, example_bag.import_errors
    assert set(example_bag.dag_ids) == EXAMPLE_DAGS
    assert sorted(p.name for p in EXAMPLES.glob("*.py")) == sorted(f"example_{d}.py" for d in EXAMPLE_DAGS)


@pytest.mark.parametrize("dag_id", sorted(EXAMPLE_DAGS))
def test_examples_follow_the_conventions(example_bag: Any, dag_id: str) -> None:
    dag = example_bag.dags[dag_id]
    assert dag.schedule is None  # run by hand (or under dag.test()); each file says what to use instead
    assert dag.start_date == pendulum.datetime(2026, 1, 1, tz="UTC")
    assert dag.catchup is False
    assert {"isendpro", "example"} <= set(dag.tags)
    assert dag.description
    for task in dag.tasks:
        if hasattr(task, "isendpro_conn_id"):
            assert task.isendpro_conn_id == "isendpro_default"


def test_parsing_makes_no_network_call(monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.compat import dag_bag

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("an example DAG opened a network connection at parse time")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    bag = dag_bag(EXAMPLES)
    assert not bag.import_errors, bag.import_errors
    assert set(bag.dag_ids) == EXAMPLE_DAGS


def test_notifiers_of_the_alerting_example(example_bag: Any) -> None:
    from airflow_provider_isendpro.notifications.sms import IsendproNotifier

    dag = example_bag.dags["isendpro_alerting"]
    [dag_level] = (
        dag.on_failure_callback if isinstance(dag.on_failure_callback, list) else [dag.on_failure_callback]
    )
    assert isinstance(dag_level, IsendproNotifier)
    for task in dag.tasks:
        [notifier] = task.on_failure_callback
        assert isinstance(notifier, IsendproNotifier)
        assert (notifier.to, notifier.only_on_final_failure, notifier.text) == ("06 12 34 56 78", True, None)


def test_the_bulk_example_sends_through_the_isendpro_pool(example_bag: Any) -> None:
    task = example_bag.dags["isendpro_bulk_mapped"].get_task("send_batch")
    assert task.pool == "isendpro"
