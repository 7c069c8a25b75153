"""A bounded schemathesis run against the emulator (what ``st run`` does, in process), with a fixed seed.

Every failure schemathesis reports must be one of ``deviations.EMULATOR_DEVIATIONS``; each of those is
then shown to really happen by a direct request, so the list stays exact. The run sends the emulator's
key in place of the generated ``keyid`` so that requests get past authentication (bad keys are covered
by the emulator's own tests).
"""

from __future__ import annotations

import collections
import json
import time
from collections.abc import Iterator
from importlib import resources
from typing import Any

import pytest
import requests
import schemathesis
from schemathesis.engine import Status, events, from_schema

from airflow_provider_isendpro.testing import EmulatorConfig, IsendproEmulator

from .deviations import EMULATOR_DEVIATIONS

SPEC = json.loads(resources.files("airflow_provider_isendpro.testing").joinpath("openapi.json").read_text())
MAX_EXAMPLES = 25  # per operation (fuzzing phase); the whole run takes ~10 s on this 2-core machine
SEED = 14
OPERATION_IDS = {
    f"{method.upper()} {path}": op["operationId"]
    for path, methods in SPEC["paths"].items()
    for method, op in methods.items()
}


@pytest.fixture(scope="module")
def emulator() -> Iterator[IsendproEmulator]:
    """An emulator of its own (not the shared session one): the run changes its state a lot."""
    with IsendproEmulator(EmulatorConfig(credit=1_000_000.0)) as emu:
        yield emu


def _run(emu: IsendproEmulator) -> tuple[collections.Counter[tuple[str, str]], int, set[str]]:
    config = schemathesis.Config.from_dict(
        {
            "base-url": emu.base_url,
            "seed": SEED,
            "workers": 1,
            "generation": {"max-examples": MAX_EXAMPLES, "deterministic": True, "database": "none"},
            # No .schemathesis/ cache in the checkout: it would replay earlier runs' crashes.
            "cache": {"enabled": False},
        }
    )
    schema = schemathesis.openapi.from_dict(SPEC, config=config)

    @schema.hook
    def map_body(context: Any, body: Any) -> Any:
        if isinstance(body, dict) and "keyid" in body:
            body["keyid"] = emu.api_key
        return body

    @schema.hook
    def map_query(context: Any, query: Any) -> Any:
        if isinstance(query, dict) and "keyid" in query:
            query["keyid"] = emu.api_key
        return query

    failures: collections.Counter[tuple[str, str]] = collections.Counter()
    cases = 0
    answered: set[str] = set()  # operations that got at least one HTTP 200
    for event in from_schema(schema).execute():
        assert not isinstance(event, events.NonFatalError), event
        if isinstance(event, events.ScenarioFinished):
            for case_id, checks in event.recorder.checks.items():
                cases += 1
                case = event.recorder.cases[case_id].value
                interaction = event.recorder.interactions.get(case_id)
                response = interaction.response if interaction is not None else None
                if response is not None and response.status_code == 200:
                    answered.add(OPERATION_IDS[case.operation.label])
                for check in checks:
                    if check.status == Status.FAILURE:
                        failures[(check.name, OPERATION_IDS[case.operation.label])] += 1
    return failures, cases, answered


def _listed(check: str, operation_id: str) -> bool:
    listed = EMULATOR_DEVIATIONS.get(check, {})
    return operation_id in listed or "*" in listed


def test_bounded_schemathesis_run_finds_only_the_documented_deviations(emulator: IsendproEmulator) -> None:
    started = time.monotonic()
    failures, cases, answered = _run(emulator)
    unexpected = {key: n for key, n in failures.items() if not _listed(*key)}
    assert unexpected == {}, f"undocumented deviations (check, operationId): {unexpected}"
    assert cases > 14 * MAX_EXAMPLES  # every operation was exercised, in several phases
    # Every path was called, and most operations got real (HTTP 200) answers, not only errors.
    assert {r.path for r in emulator.requests} >= set(SPEC["paths"])
    print(f"operations answered 200: {sorted(answered)}")
    assert len(answered) >= 8, answered
    print(f"schemathesis: {cases} cases in {time.monotonic() - started:.1f} s, failures: {dict(failures)}")


# --------------------------------------------------------------------------------------------------
# Each listed deviation, shown directly (so the list cannot go stale).


def _post(emu: IsendproEmulator, path: str, body: dict[str, Any]) -> requests.Response:
    return requests.post(emu.base_url + path, json={"keyid": emu.api_key, **body}, timeout=5)


def test_deviation_credit_is_a_string(isendpro_emulator: IsendproEmulator) -> None:
    schema = SPEC["components"]["schemas"]["CreditResponse_etat"]["properties"]["credit"]
    assert schema["type"] == "number"
    answer = requests.get(
        isendpro_emulator.base_url + "/credit",
        params={"keyid": isendpro_emulator.api_key, "credit": "1"},
        timeout=5,
    )
    assert answer.json() == {"etat": {"credit": "100.0"}}
    assert "getCredit" in EMULATOR_DEVIATIONS["response_schema_conformance"]


def test_deviation_zip_downloads(isendpro_emulator: IsendproEmulator) -> None:
    emu = isendpro_emulator
    report = requests.get(
        emu.base_url + "/campagne",
        params={"keyid": emu.api_key, "rapportCampagne": "1", "date_deb": "2026-01-01 00:00",
                "date_fin": "2026-01-31 00:00"},
        timeout=5,
    )  # fmt: skip
    blacklist = requests.post(
        emu.base_url + "/getlistenoire", params={"keyid": emu.api_key, "getListeNoire": "1"}, timeout=5
    )
    for answer, path in ((report, "/campagne"), (blacklist, "/getlistenoire")):
        method = "get" if path == "/campagne" else "post"
        declared = SPEC["paths"][path][method]["responses"]["200"]["content"]
        assert "application/json" in declared and "application/zip" not in declared
        assert (answer.status_code, answer.headers["Content-Type"]) == (200, "application/zip")
        assert answer.content.startswith(b"PK")
    assert set(EMULATOR_DEVIATIONS["content_type_conformance"]) == {"getCampagne", "getListeNoire"}


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/sms", {"num": "0612345678", "sms": "x"}),
        ("/smsmulti", {"num": ["0612345678"], "sms": ["x"]}),
        ("/comptage", {"comptage": "1", "num": "0612345678", "sms": "x"}),
    ],
)
def test_deviation_num_azur_ignored(
    isendpro_emulator: IsendproEmulator, path: str, body: dict[str, Any]
) -> None:
    answer = _post(isendpro_emulator, path, {**body, "numAzur": "not-in-the-enum"})
    assert answer.status_code == 200
    operation = SPEC["paths"][path]["post"]["operationId"]
    assert operation in EMULATOR_DEVIATIONS["negative_data_rejection"]


def test_deviation_post_credit_served(isendpro_emulator: IsendproEmulator) -> None:
    assert set(SPEC["paths"]["/credit"]) == {"get"}
    answer = requests.post(
        isendpro_emulator.base_url + "/credit",
        data={"keyid": isendpro_emulator.api_key, "credit": "1"},
        timeout=5,
    )
    assert (answer.status_code, answer.json()) == (200, {"etat": {"credit": "100.0"}})


def test_deviation_schema_valid_but_refused(isendpro_emulator: IsendproEmulator) -> None:
    # Bare strings in the spec: an empty number is "valid" there, and refused (HTTP 400 Erreur) here.
    answer = _post(isendpro_emulator, "/sms", {"num": "", "sms": "x"})
    assert answer.status_code == 400
    assert answer.json() == {
        "etat": {"etat": [{"code": "4", "message": "Missing required field: 'num' (POST /sms)"}]}
    }
