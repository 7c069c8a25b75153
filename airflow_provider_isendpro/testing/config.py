"""Emulator configuration: one field per unknown of API-NOTES.md section 11, plus the magic numbers.

Everything iSendPro leaves undocumented is a switch here, so a test can pin the behaviour it relies on
and a client can be checked against every plausible variant. Defaults follow API-NOTES section 11.
Kept import-light: the pytest plugin and the package ``__init__`` may pull it in.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Literal

# --- Magic numbers -----------------------------------------------------------------------------------
# Sending to (or looking up) one of these numbers triggers a failure mode without any fault injection.
MAGIC_BLACKLISTED = "0600000011"
"""Per-recipient code 11 (blacklisted), inside an HTTP 200 next to the other recipients' results."""
MAGIC_UNASSIGNED = "0600000021"
"""Per-recipient code 21 (number not assigned)."""
MAGIC_HTTP_400 = "0600000400"
"""The whole request is rejected: HTTP 400 with an ``Erreur`` body; nothing is sent or billed."""
MAGIC_HTTP_500 = "0600000500"
"""The whole request fails with HTTP 500 (HTML body); nothing is sent or billed."""
MAGIC_HTTP_429 = "0600000429"
"""The whole request is throttled: HTTP 429 with ``Retry-After``; nothing is sent or billed."""
MAGIC_HANG = "0600000999"
"""The server never answers (bounded by ``hang_timeout``, released by ``stop()``); nothing is sent."""
MAGIC_DLR_NONE = "0600000300"
"""Accepted and billed, but no delivery receipt ever comes; its ``/campagne`` row stays pending."""
MAGIC_DLR_FAILED = "0600000301"
"""Accepted; its delivery receipt says failed (``statut`` "1")."""
MAGIC_DLR_EXPIRED = "0600000302"
"""Accepted; its delivery receipt says expired (``statut`` "2")."""

MAGIC_NUMBERS: dict[str, str] = {
    MAGIC_BLACKLISTED: "code 11 for this recipient",
    MAGIC_UNASSIGNED: "code 21 for this recipient",
    MAGIC_HTTP_400: "HTTP 400 Erreur for the whole request",
    MAGIC_HTTP_500: "HTTP 500 for the whole request",
    MAGIC_HTTP_429: "HTTP 429 with Retry-After for the whole request",
    MAGIC_HANG: "no answer (hangs past any client timeout)",
    MAGIC_DLR_NONE: "accepted, never a delivery receipt (report row stays pending)",
    MAGIC_DLR_FAILED: "accepted, delivery receipt statut 1 (failed)",
    MAGIC_DLR_EXPIRED: "accepted, delivery receipt statut 2 (expired)",
}

# --- Delivery receipts (DLR, API-NOTES §7 and §11 #15) ------------------------------------------------
DLR_DELIVERED, DLR_FAILED, DLR_EXPIRED = "0", "1", "2"
"""The emulator's ``statut`` values: only "0" (delivered) is attested; "1" and "2" are its assumption."""
DLR_MIX_REALISTIC: dict[str, float] = {DLR_DELIVERED: 0.9, DLR_FAILED: 0.07, DLR_EXPIRED: 0.03}
"""A mix with failures, for ``dlr_statuses``; the default is every SMS delivered (stable user tests)."""
DEFAULT_DLR_NUMBER_STATUSES: dict[str, str | None] = {
    MAGIC_DLR_NONE: None,
    MAGIC_DLR_FAILED: DLR_FAILED,
    MAGIC_DLR_EXPIRED: DLR_EXPIRED,
}
DEFAULT_DLR_PARAMS: dict[str, str] = {"number": "tel", "status": "statut", "tracker": "tracker"}

DEFAULT_API_KEY = "emulator-fake-keyid"

# --- Return codes ------------------------------------------------------------------------------------
# Attested by API-NOTES 5.4: 0, 3, 11, 21, 230, 250. Every other code is an emulator choice (UNKNOWN in
# the real API), kept distinct so a test can tell the cases apart. Override any entry via
# ``EmulatorConfig(error_codes={...})``.
DEFAULT_CODES: dict[str, tuple[int, str]] = {
    "sent": (0, "Votre message a bien ete envoye"),
    "blacklisted": (11, "Le numéro de téléphone est dans la liste noire!"),
    "unassigned": (21, "Le numéro de téléphone n'est pas attribué!"),
    "bad_credentials": (3, "Your credentials are incorrect"),
    "missing_field": (4, "Missing required field"),
    "invalid_value": (5, "Invalid value"),
    "invalid_sender": (6, "Invalid sender (emetteur)"),
    "invalid_date": (7, "Invalid date"),
    "message_too_long": (8, "Message too long"),
    "smslong_exceeded": (9, "Message longer than smslong allows"),
    "insufficient_credit": (10, "Insufficient credit"),
    "non_gsm_to_france": (12, "Non-GSM text to a metropolitan French number requires transliteration"),
    "too_many_recipients": (13, "Too many recipients"),
    "rate_limited": (14, "Too many requests"),
    "quiet_hours": (15, "Commercial SMS are not allowed between 20:00 and 08:00"),
    "unknown_repertoire": (16, "Unknown repertoireId"),
    "unknown_subaccount": (17, "Unknown sub-account"),
    "array_mismatch": (18, "Array lengths do not match"),
    "ip_not_allowed": (19, "IP address not allowed"),
    "invalid_tracker": (20, "Invalid tracker"),
    "invalid_body": (22, "Malformed request body"),
    "subaccount_exists": (23, "Sub-account login already exists"),
    "rejected": (98, "Request rejected"),
    "injected": (99, "Injected fault"),
    "repertoire_created": (0, "Le repertoire a ete cree"),
    "repertoire_updated": (0, "Le repertoire a ete modifie"),
    "subaccount_created": (230, "Le sous compte a ete ajoute"),
    "subaccount_updated": (0, "Le sous compte a ete modifie"),
    "shortlink_created": (250, "Le lien court a ete genere"),
    "keyword_updated": (0, "Le mot cle a ete modifie"),
}

# Operator codes by national prefix (longest prefix wins). Fake: the real operator is not derivable from
# a prefix (portability); only "ORAN" is attested.
DEFAULT_HLR_OPERATORS: dict[str, str] = {
    "060": "ORAN",
    "061": "SFR",
    "062": "SFR",
    "063": "FREE",
    "064": "FREE",
    "065": "BOUY",
    "066": "BOUY",
    "067": "ORAN",
    "068": "ORAN",
    "069": "SFR",
    "075": "FREE",
    "076": "BOUY",
    "077": "SFR",
    "078": "ORAN",
}

Envelope = Literal["list", "object", "flat"]
CodeStyle = Literal["spec", "int", "str"]


@dataclass(frozen=True)
class EmulatorConfig:
    """Every behaviour the official sources leave open (API-NOTES §11), with the documented defaults.

    Frozen so a running server swaps it atomically (``IsendproEmulator.configure``).
    """

    # State and billing (§11 #8).
    credit: float = 100.0
    """Starting credit of the main account, in euros."""
    price_per_segment: float = 0.05
    """Euros charged per billed segment (SMS part); ``credit=2`` reports credit / price as ``quantite``."""
    hlr_price: float = 0.0
    """Euros charged per HLR lookup (price UNKNOWN)."""
    subaccount_initial_credit: float = 0.0
    initial_blacklist: tuple[str, ...] = ()

    # Envelope quirks (§11 #2-#5).
    code_style: CodeStyle = "spec"
    """``spec``: int for sends, shortlink and sub-account creation; str for errors and the rest.
    ``int``/``str``: every code that type."""
    envelope: Envelope = "list"
    """Shape of a success response holding a single entry: ``{"etat":{"etat":[{...}]}}`` (list), or
    ``{"etat":{"etat":{...}}}`` (object), or ``{"etat":{...}}`` (flat). ``/credit`` is always flat."""
    error_envelope: Envelope = "list"
    """The same switch for the ``Erreur`` body of request-level errors."""
    request_error_status: int = 400
    """HTTP status of request-level errors (400, or 200 with the ``Erreur`` body)."""
    accept_get_credit: bool = True
    credit_as_number: bool = False
    """``{"credit": 10.0}`` instead of ``"10.0"``."""
    echo_national_tel: bool = True
    """Answer ``tel`` in national form for French numbers sent as ``33...`` (as the docs' example does)."""
    subaccount_message_under_tel: bool = False
    """Put the sub-account creation message under ``tel`` like the spec example, instead of ``message``."""

    # Limits (§11 #6, #7, #9).
    max_recipients: int = 10000
    """Recipients per ``/smsmulti`` call; more gives ``too_many_recipients``."""
    rate_limit_per_second: int | None = None
    """Requests per second (all API paths together) before HTTP 429; ``None`` disables it."""
    retry_after: float = 1.0
    """``Retry-After`` seconds sent with rate-limit and magic-number 429s."""
    max_segments: int = 6
    stop_suffix_length: int | None = None
    """Units the STOP mention adds; ``None`` uses the emulator's ``gsm.STOP_SUFFIX_LENGTH`` (12: 148 usable).
    Set 11 for the 149-character reading."""
    require_smslong_for_long: bool = False
    """Reject a multi-part message sent without ``smslong`` (the spec's wording suggests it)."""

    # Request leniency (§11 #11, #12, #17-#20).
    accept_plus_prefix: bool = True
    smsmulti_sms_as_string: bool = True
    smsmulti_repertoire_without_num: bool = False
    """Accept ``/smsmulti`` with ``repertoireId`` and no ``num`` at all (a third-party script sends that,
    API-NOTES 6.2). Off by default, as the spec marks ``num`` required: the client sends ``"num": []``.
    CLI: ``--config '{"smsmulti_repertoire_without_num": true}'``."""
    strict_listenoire_casing: bool = True
    listenoire_form_body: bool = False
    accept_lowercase_sender: bool = True
    reject_non_gsm_to_france: bool = True
    strict_types: bool = True
    """Reject a JSON number/bool where the spec says string; ``False`` coerces it to a string."""
    tracker_pattern: str = r"[A-Za-z0-9]{0,49}"

    # Compliance and legacy (§11 #21, #22).
    enforce_quiet_hours: bool = False
    quiet_hours: tuple[int, int] = (20, 8)
    legacy_endpoints: bool = False
    """Serve the legacy ``/qualification`` and ``/keyword`` operations."""
    qualification_blacklist_marker: str = "LISTE NOIRE"
    allowed_ips: tuple[str, ...] | None = None
    """Client IPs allowed (the account's IP allow-list); ``None`` allows all."""

    # Reports (§11 #13, #14).
    hlr_operators: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_HLR_OPERATORS))
    hlr_unknown_marker: str = "?"
    csv_separator: str = ";"
    campaign_csv_name: str = "rapport_campagne.csv"
    blacklist_csv_name: str = "liste_noire.csv"
    campaign_statut: str | None = None
    """``None``: each row carries its delivery receipt's ``statut`` once the receipt is due (see
    ``dlr_delay``), ``campaign_pending_statut`` before. A string forces that ``statut`` on every row."""
    campaign_pending_statut: str = ""
    """The ``statut`` of a row whose receipt is not due yet (or never comes: ``MAGIC_DLR_NONE``)."""

    # Delivery receipts (§11 #15): iSendPro calls the URL of the customer area once an SMS is final.
    dlr_url: str | None = None
    """Where to send delivery receipts (``http(s)://...``; the parameters are appended to its query);
    ``None``: no callback (the ``/campagne`` report still carries the statuses)."""
    dlr_delay: float = 0.0
    """Seconds between the acceptance of an SMS and its receipt (see ``dlr_after_date_envoi``)."""
    dlr_after_date_envoi: bool = False
    """``True``: a scheduled SMS's receipt is due ``dlr_delay`` after its ``date_envoi`` (as the real
    service would deliver it), and its report row is pending until then. ``False`` (default): after its
    acceptance, like any SMS, so a report on a scheduled send reads final statuses at once."""
    dlr_statuses: dict[str, float] = field(default_factory=lambda: {DLR_DELIVERED: 1.0})
    """``statut`` -> weight. Each SMS draws one, deterministically from its tracker (``dlr.draw_statut``);
    e.g. ``DLR_MIX_REALISTIC``. The default delivers everything."""
    dlr_number_statuses: dict[str, str | None] = field(default_factory=dict)
    """Per-number ``statut`` (national form), over the mix; ``None``: no receipt. Merged over
    ``DEFAULT_DLR_NUMBER_STATUSES`` (the magic numbers), as ``error_codes`` is over ``DEFAULT_CODES``."""
    dlr_params: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_DLR_PARAMS))
    """The callback's parameter names for ``number``, ``status`` and ``tracker`` (merged over the
    defaults ``tel``, ``statut``, ``tracker``); an empty name leaves that parameter out."""
    dlr_method: str = "GET"
    """``GET`` (parameters in the query string) or ``POST`` (a form body)."""
    dlr_retries: int = 2
    """Attempts after a failed one (connection error, timeout or a non-2xx answer)."""
    dlr_retry_delay: float = 1.0
    """Seconds before each retry."""
    dlr_timeout: float = 5.0
    """Connect and read timeout of one callback."""

    # Return codes (§11 #1, #16, #18): partial overrides are merged into DEFAULT_CODES.
    error_codes: dict[str, tuple[int, str]] = field(default_factory=dict)

    # Timing (§11 #23).
    latency: float = 0.0
    number_latency: dict[str, float] = field(default_factory=dict)
    """Extra delay (seconds) when a request names one of these numbers (national form)."""
    hang_timeout: float = 30.0
    """Upper bound of every hang; ``stop()`` and ``release_hangs()`` end hangs earlier."""
    keepalive_timeout: float = 60.0

    # Inspection storage (benchmarks turn these off and read ``stats``).
    record_requests: bool = True
    record_sent: bool = True

    def __post_init__(self) -> None:
        merged = dict(DEFAULT_CODES)
        for key, value in self.error_codes.items():
            code, message = value
            merged[key] = (int(code), str(message))
        object.__setattr__(self, "error_codes", merged)
        if self.envelope not in ("list", "object", "flat") or self.error_envelope not in (
            "list",
            "object",
            "flat",
        ):
            raise ValueError("envelope must be 'list', 'object' or 'flat'")
        if self.code_style not in ("spec", "int", "str"):
            raise ValueError("code_style must be 'spec', 'int' or 'str'")
        if self.price_per_segment < 0 or self.credit < 0:
            raise ValueError("credit and price_per_segment must be >= 0")
        self._check_dlr()

    def _check_dlr(self) -> None:
        """Merge the DLR tables over their defaults and refuse what could not be sent."""
        numbers: dict[str, str | None] = dict(DEFAULT_DLR_NUMBER_STATUSES)
        numbers.update({str(k): (None if v is None else str(v)) for k, v in self.dlr_number_statuses.items()})
        object.__setattr__(self, "dlr_number_statuses", numbers)
        params = dict(DEFAULT_DLR_PARAMS)
        unknown = sorted(set(self.dlr_params) - set(params))
        if unknown:
            raise ValueError(f"dlr_params: unknown key(s) {', '.join(unknown)}; use number, status, tracker")
        params.update({k: str(v) for k, v in self.dlr_params.items()})
        object.__setattr__(self, "dlr_params", params)
        mix = {str(k): float(v) for k, v in self.dlr_statuses.items()}
        if not mix or any(not w >= 0 for w in mix.values()) or sum(mix.values()) <= 0:
            raise ValueError(
                f"dlr_statuses = {self.dlr_statuses!r}: give statut -> weight, weights >= 0 and not all 0, "
                'e.g. {"0": 0.9, "1": 0.07, "2": 0.03}'
            )
        object.__setattr__(self, "dlr_statuses", mix)
        method = str(self.dlr_method).upper()
        if method not in ("GET", "POST"):
            raise ValueError(f"dlr_method = {self.dlr_method!r}: use 'GET' or 'POST'")
        object.__setattr__(self, "dlr_method", method)
        if self.dlr_url is not None and not str(self.dlr_url).startswith(("http://", "https://")):
            raise ValueError("dlr_url must be an http:// or https:// URL (or None for no callbacks)")
        if self.dlr_delay < 0 or self.dlr_retries < 0 or self.dlr_retry_delay < 0 or self.dlr_timeout <= 0:
            raise ValueError("dlr_delay, dlr_retries and dlr_retry_delay must be >= 0, dlr_timeout > 0")

    def code(self, key: str) -> tuple[int, str]:
        """Code and message for a case of the table."""
        return self.error_codes[key]

    def replace(self, **changes: Any) -> EmulatorConfig:
        """A copy with ``changes`` applied; unknown names raise ``TypeError``/``ValueError``."""
        names = {f.name for f in dataclasses.fields(self)}
        unknown = sorted(set(changes) - names)
        if unknown:
            raise ValueError(f"unknown EmulatorConfig field(s): {', '.join(unknown)}")
        return dataclasses.replace(self, **_coerce(changes))

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly view (for the control endpoint)."""
        out = dataclasses.asdict(self)
        out["error_codes"] = {k: [c, m] for k, (c, m) in self.error_codes.items()}
        return out


def _coerce(changes: dict[str, Any]) -> dict[str, Any]:
    """Turn JSON values (lists) back into the tuple fields the dataclass declares."""
    out = dict(changes)
    for name in ("initial_blacklist", "allowed_ips", "quiet_hours"):
        if isinstance(out.get(name), list):
            out[name] = tuple(out[name])
    codes = out.get("error_codes")
    if isinstance(codes, dict):
        out["error_codes"] = {k: (int(v[0]), str(v[1])) for k, v in codes.items()}
    return out
