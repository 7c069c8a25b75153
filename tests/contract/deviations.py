"""Every place where the provider or its emulator knowingly departs from the official spec, in one list.

Each entry names its source in ``API-NOTES.md``. The contract tests read their exceptions from here only:
a deviation that is not listed fails them, and a listed one that no longer happens fails them too.
"""

from __future__ import annotations

from typing import Final

# --- Requests the client sends (checked with openapi-core against the packaged spec) ------------------

#: operationId -> why the request departs from its declared form, and how the test checks it instead.
CLIENT_REQUEST_DEVIATIONS: Final[dict[str, str]] = {
    "getCredit": (
        "sent as POST with a form body, where the spec declares GET with a query string (API-NOTES 6.3: "
        "iSendPro's own PHP client moved to POST in June 2025, and it keeps the key out of the URL). "
        "Checked: the same fields validate as the query of GET /credit."
    ),
}

# --- The emulator under schemathesis (a bounded run against the packaged spec) -------------------------

#: Schemathesis check -> {operationId: why the emulator answers differently from what the check expects}.
#: ``"*"`` stands for every operation. Each entry is also shown to happen by a direct test in
#: ``test_schemathesis.py``, so the list cannot go stale.
EMULATOR_DEVIATIONS: Final[dict[str, dict[str, str]]] = {
    "response_schema_conformance": {
        "getCredit": (
            "'credit' is a string (\"100.0\") where the schema says number, like the spec's own example "
            "and iSendPro's answers (API-NOTES 6.3; EmulatorConfig.credit_as_number switches it)"
        ),
    },
    "content_type_conformance": {
        "getCampagne": (
            "a successful report is a zip file (application/zip), declared application/json in the spec "
            "(API-NOTES 5.1 shape D, 6.6)"
        ),
        "getListeNoire": "a successful download is a zip file, declared application/json (API-NOTES 6.8)",
    },
    "negative_data_rejection": {
        op: "'numAzur' (enum [\"1\"]) is ignored, so an invalid value is not refused (API-NOTES 6.1, §11 #20)"
        for op in ("sendSms", "sendSmsMulti", "comptage")
    },
    "unsupported_method": {
        "getCredit": (
            "POST /credit is served (the spec declares only GET): iSendPro's own client uses POST with a "
            "form body since June 2025 (API-NOTES 6.3), and so does the provider"
        ),
    },
    "positive_data_acceptance": {
        "*": (
            "the spec declares every field a bare string (no formats, lengths or patterns), so numbers, "
            "dates, senders and keys that iSendPro refuses are 'schema-valid'; the emulator answers them "
            "with the spec's own HTTP 400 Erreur, as iSendPro does (API-NOTES 5.3, 8)"
        ),
    },
}
