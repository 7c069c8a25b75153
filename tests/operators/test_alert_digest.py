"""``IsendproAlertDigestOperator``'s own checks (its sends are tested with the notifier's, in
tests/notifications/test_digest.py)."""

from __future__ import annotations

import pytest

from airflow_provider_isendpro.errors import IsendproValidationError
from airflow_provider_isendpro.operators.alert_digest import IsendproAlertDigestOperator


def test_an_invalid_sender_raises_when_the_dag_file_is_parsed() -> None:
    with pytest.raises(IsendproValidationError) as err:
        IsendproAlertDigestOperator(task_id="digest", to="0612345678", sender="A!")
    assert str(err.value).startswith("sender='A!': must be 4 to 11 characters")


def test_a_valid_sender_is_kept_and_none_means_the_connections() -> None:
    assert IsendproAlertDigestOperator(task_id="d1", to="0612345678", sender="ACME").sender == "ACME"
    assert IsendproAlertDigestOperator(task_id="d2", to="0612345678", sender="").sender is None
