"""Hypothesis against the receiver (the contract in ``fuzzing.py``): a few hundred examples here;
``bench/fuzz_receipts.py`` runs thousands and prints the figures."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from hypothesis import HealthCheck, given, settings

from tests.receipts.fuzzing import (
    VALID,
    WRONG_METHOD,
    WRONG_SECRET,
    ReceiverCase,
    ReceiverEnv,
    check,
    receiver_cases,
)

EXAMPLES = 300


def test_the_receiver_under_fuzzed_requests(tmp_path: Path) -> None:
    outcomes: Counter[str] = Counter()
    labels: Counter[str] = Counter()

    with ReceiverEnv(tmp_path / "ledger") as env:

        @settings(
            max_examples=EXAMPLES,
            derandomize=True,  # as the suite's other fuzz tests: the same examples on every CI run
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=receiver_cases())
        def run(case: ReceiverCase) -> None:
            labels[case.label] += 1
            outcomes[check(env, case)] += 1

        run()
    assert sum(labels.values()) == EXAMPLES
    # the draw covers every kind of answer
    assert labels[VALID] and labels[WRONG_SECRET] and labels[WRONG_METHOD], labels
    assert outcomes["stored"] and outcomes["404"] and outcomes["405"] and outcomes["400"], outcomes
