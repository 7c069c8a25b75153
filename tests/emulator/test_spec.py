"""The packaged contract is the official one, and the validator reads it."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from airflow_provider_isendpro.testing import spec

PACKAGED = Path(spec.__file__).with_name("openapi.json")
#: SHA-256 of iSendPro's published OpenAPI document (https://apirest.isendpro.com/isendpro.json, v1.1.1),
#: as kept in the project's shared API folder. The test reads nothing outside the repository.
OFFICIAL_SHA256 = "a1b2c799592b6c5506cd9d79267d0154115f6ccc790ed569df27843d56376a8c"


def test_packaged_spec_is_the_official_file_byte_for_byte() -> None:
    assert hashlib.sha256(PACKAGED.read_bytes()).hexdigest() == OFFICIAL_SHA256


def test_fourteen_operations_on_twelve_paths() -> None:
    ops = spec.operations()
    assert len(ops) == 14
    assert len({path for _, path in ops}) == 12
    assert ops[("POST", "/setlistenoire")].required == ("keyid", "setlisteNoire", "num")
    assert ops[("POST", "/dellistenoire")].required == ("keyid", "delListeNoire", "num")
    assert ops[("POST", "/getlistenoire")].required == ("keyid", "getListeNoire")
    assert ops[("POST", "/comptage")].props["smslong"].enum == ("999",)
    assert ops[("POST", "/sms")].props["smslong"].enum is None
    assert len(ops[("POST", "/sms")].props["gmt_zone"].enum or ()) == 90
    assert "Europe/Paris" not in (ops[("POST", "/sms")].props["gmt_zone"].enum or ())
    assert ops[("POST", "/smsmulti")].props["tracker"].type == "array"


def test_validate_is_generic() -> None:
    op = spec.operations()[("GET", "/credit")]
    assert spec.validate(op, {"keyid": "k", "credit": "2", "extra": 1}) == {
        "keyid": "k",
        "credit": "2",
        "extra": 1,
    }
    with pytest.raises(spec.SpecViolation) as info:
        spec.validate(op, {"keyid": "k"})
    assert (info.value.kind, info.value.field) == ("missing_field", "credit")
    with pytest.raises(spec.SpecViolation) as info:
        spec.validate(op, {"keyid": "k", "credit": "3"})
    assert (info.value.kind, info.value.field) == ("invalid_value", "credit")
    numazur = spec.operations()[("POST", "/sms")]
    assert "numAzur" not in spec.validate(numazur, {"keyid": "k", "num": "1", "sms": "x", "numAzur": "9"})
