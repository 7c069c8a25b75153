"""Bad input never reaches iSendPro, and only the project's validation error ever comes out.

Every user-facing entry point (``SendSmsOperator``, ``HlrLookupOperator``, ``CreditSensor``,
``CampaignReportOperator``, the blacklist operators, ``IsendproNotifier`` and the client's sends) is fed
Hypothesis-generated numbers, texts, senders, send times, date ranges, trackers, batch sizes, limits and
flags (``strategies.py``), built, rendered and run against the emulator (``harness.py``). The contract
checked for every example is in ``harness.run_case``. CI runs ``EXAMPLES`` examples per target; the long
run is ``bench/fuzz.py`` (100,000+ examples).
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings

from airflow_provider_isendpro.testing import IsendproEmulator
from tests.reliability.harness import TARGETS, Case, Env, make_env, run_case

EXAMPLES = int(os.environ.get("ISENDPRO_FUZZ_EXAMPLES", "100"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    derandomize=True,  # the same examples on every CI run; bench/fuzz.py explores
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@pytest.fixture(scope="module")
def env(probe_server: IsendproEmulator, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    saved = os.environ.get("AIRFLOW_CONN_ISENDPRO_DEFAULT")
    yield make_env(probe_server, tmp_path_factory.mktemp("fuzz"))
    if saved is None:
        os.environ.pop("AIRFLOW_CONN_ISENDPRO_DEFAULT", None)
    else:
        os.environ["AIRFLOW_CONN_ISENDPRO_DEFAULT"] = saved
    probe_server.reset()


@pytest.mark.parametrize("name", list(TARGETS))
def test_only_validation_errors_and_nothing_sent(env: Env, name: str) -> None:
    target = TARGETS[name]
    outcomes: list[str] = []

    @FUZZ
    @given(case=target.strategy)
    def check(case: Case) -> None:
        outcomes.append(run_case(target, case, env))

    check()
    # Both sides of the contract were exercised.
    assert {"valid", "rejected"} <= set(outcomes), (name, outcomes)


#: Inputs the fuzzer found that once escaped as another exception, reached iSendPro, wrote the ledger
#: before being refused, or were refused naming no parameter of the entry point. Kept as plain
#: regression cases: they run on every CI run whatever Hypothesis draws.
FOUND = [
    ("send_sms_operator", {"max_rejected_ratio": [0.5]}),  # TypeError: '<=' between int and list
    ("send_sms_operator", {"max_rejected_ratio": "0.5"}),  # TypeError
    ("send_sms_operator", {"max_recipients": "10"}),  # TypeError at execute, after the plan
    ("send_sms_operator", {"max_total_segments": [3]}),  # TypeError at execute
    ("send_sms_operator", {"unit_price": "0.05", "dry_run": True}),  # TypeError in the estimate
    ("send_sms_operator", {"resend_unknown": [False]}),  # truthy: resends batches in doubt
    ("send_sms_operator", {"resend_unknown": "maybe"}),
    ("send_sms_operator", {"sender": b"ACME"}),  # refused only after the ledger's pending record
    ("send_sms_operator", {"sender": "AB"}),  # the same
    ("send_sms_operator", {"sender": "AB", "dry_run": True}),  # a dry run said nothing
    ("send_sms_operator", {"send_at": "9999-12-31T23:59:59+00:00"}),  # OverflowError
    ("send_sms_operator", {"send_at": "tomorrow"}),  # refused as 'when', not 'send_at'
    ("send_sms_operator", {"region": ["FR"]}),  # TypeError: unhashable type: 'list'
    ("send_sms_operator", {"send_at": 0}),  # falsy: sent at once instead of refused
    ("send_sms_operator", {"recipients": [{"number": "0612345678", "x": " "}], "text": "{{ recipient.x }}"}),
    ("send_sms_operator", {"recipients": [["0612345678"]]}),  # spliced as if an XComArg's list, and sent
    ("client_send", {"text": "\n\n"}),  # a blank SMS, billed all the same
    ("hlr_operator", {"numbers": ["0612345678"], "region": ["FR"]}),  # TypeError
    ("hlr_operator", {"numbers": True}),  # refused as 'recipients', not 'numbers'
    ("blacklist", {"numbers": 5, "add": True}),  # the same
    ("credit_sensor", {"min_credit": 10**400}),  # OverflowError: int too large to convert to float
    ("credit_sensor", {"min_sms": -(10**400)}),
    ("campaign_report", {"range": (5, 6)}),  # TypeError: combine() argument 1 must be datetime.date
    ("campaign_report", {"range": (["2026-01-01"], "2026-02-01")}),  # TypeError
    ("campaign_report", {"range": ("2026-01-01", "9999-12-31T23:59+00:00")}),  # OverflowError
    ("campaign_report", {"range": ("0001-01-01T00:00+14:00", "2026-01-01")}),  # OverflowError
    ("notifier", {"to": 5}),  # TypeError: 'int' object is not iterable
    ("notifier", {"to": True}),
    ("client_send", {"send_at": "9999-12-31T23:00:00-05:00"}),  # OverflowError
]
_BASE = {
    "send_sms_operator": {"recipients": ["0612345678"], "text": "Bonjour"},
    "hlr_operator": {},
    "blacklist": {},
    "credit_sensor": {},
    "campaign_report": {},
    "notifier": {},
    "client_send": {"to": "0612345678", "text": "Bonjour", "asynchronous": False},
}


@pytest.mark.parametrize(("name", "kwargs"), FOUND, ids=[f"{n}-{'-'.join(k)}" for n, k in FOUND])
def test_found_by_fuzzing_is_refused(env: Env, name: str, kwargs: dict[str, object]) -> None:
    assert run_case(TARGETS[name], Case({**_BASE[name], **kwargs}, "invalid"), env) == "rejected"


def test_found_by_fuzzing_a_report_before_year_1000_is_well_formed(env: Env) -> None:
    """``strftime('%Y')`` does not pad years below 1000: iSendPro got '654-07-27 00:00' and refused it."""
    import datetime as dt

    case = Case({"range": (dt.date(654, 7, 27), dt.date(2026, 1, 1))}, "valid")
    assert run_case(TARGETS["campaign_report"], case, env) == "valid"
    [request] = env.emu.requests
    assert (request.query["date_deb"], request.query["date_fin"]) == ("0654-07-27 00:00", "2026-01-01 00:00")
