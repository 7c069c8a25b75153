"""The error tree: one root, picklable, with the attributes users act on."""

from __future__ import annotations

import pickle

import pytest

from airflow_provider_isendpro import errors


@pytest.mark.parametrize(
    "error",
    [
        errors.IsendproError("boom", code=3, http_status=400, recipient="0612345678", retryable=True),
        errors.IsendproConfigError("bad url"),
        errors.IsendproValidationError(field="sender", value="AB", rule="must be 4 to 11 characters"),
        errors.IsendproApiError("refused", code=45, http_status=400),
        errors.IsendproAuthError("bad key", code=3, http_status=400),
        errors.IsendproRecipientError("blacklisted", code=11, recipient="0612345678"),
        errors.IsendproCreditError("the send costs 0.10 EUR, the account has 0.05 EUR"),
        errors.IsendproCreditRefusedError("no credit", code=10, http_status=400),
        errors.IsendproTransportError("lost"),
        errors.IsendproConnectError("refused"),
        errors.IsendproServerError("503", http_status=503),
        errors.IsendproRateLimitError("429", http_status=429, retry_after=2.5),
        errors.IsendproResponseError("not json"),
        errors.IsendproTimeoutError("slow"),
        errors.IsendproUnknownOutcomeError("maybe sent"),
        errors.IsendproSupersededError("superseded by try 2 (host w2, pid 102)"),
        errors.IsendproTryAlreadyRunningError("try 1 is already running (host w1, pid 101)"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_every_error_survives_pickling_with_its_attributes(error: errors.IsendproError) -> None:
    clone = pickle.loads(pickle.dumps(error))
    assert type(clone) is type(error)
    assert str(clone) == str(error)
    assert vars(clone) == vars(error)
    assert isinstance(clone, errors.IsendproError)


def test_validation_error_message_names_field_value_and_rule() -> None:
    error = errors.IsendproValidationError(field="sender", value="AB", rule="must be 4 to 11 characters")
    assert str(error) == "sender='AB': must be 4 to 11 characters"
    assert isinstance(error, ValueError)


def test_long_values_are_shortened_in_messages() -> None:
    error = errors.IsendproValidationError(field="text", value="x" * 500, rule="too long")
    assert len(str(error)) < 90
    assert str(error).startswith("text='xxxxxxxx") and str(error).endswith("xxx': too long")


def test_retryable_defaults_follow_the_class() -> None:
    assert errors.IsendproServerError("x").retryable is True
    assert errors.IsendproUnknownOutcomeError("x").retryable is False
    assert errors.IsendproApiError("x").retryable is False
