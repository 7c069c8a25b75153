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

# --- Responses of the emulator (checked by schemathesis against the packaged spec) --------------------

#: Schemathesis check name -> {operationId: why the emulator answers differently from the spec}.
EMULATOR_RESPONSE_DEVIATIONS: Final[dict[str, dict[str, str]]] = {
    "response_schema_conformance": {
        "getCredit": (
            "'credit' is a string (\"100.0\") where the schema says number: the spec's own example and "
            "iSendPro's answers carry a string (API-NOTES 6.3; EmulatorConfig.credit_as_number switches)"
        ),
    },
    "content_type_conformance": {
        "getCampagne": (
            "a successful report is a zip file (application/zip), declared as application/json in the "
            "spec (API-NOTES 5.1 shape D, 6.6)"
        ),
        "getListeNoire": "a successful download is a zip file, declared as application/json (API-NOTES 6.8)",
    },
    "negative_data_rejection": {
        # numAzur: declared (enum ["1"]) but its meaning is unknown, so the emulator ignores it whatever
        # its value (API-NOTES 6.1, §11 #20). Schemathesis sends invalid values and sees them accepted.
        "sendSms": "'numAzur' is ignored, so an invalid value is not rejected (API-NOTES §11 #20)",
        "sendSmsMulti": "'numAzur' is ignored, so an invalid value is not rejected (API-NOTES §11 #20)",
        "comptage": "'numAzur' is ignored, so an invalid value is not rejected (API-NOTES §11 #20)",
    },
}
