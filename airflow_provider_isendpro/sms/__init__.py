"""Pure SMS rules: GSM alphabet, segment counting, transliteration, phone numbers, request parameters.

No I/O and no Airflow import. ``phonenumbers`` is imported only inside the functions that need it, so
importing this package stays cheap for DAG parsing.
"""

from __future__ import annotations

from airflow_provider_isendpro.sms.estimate import SendEstimate, estimate_send
from airflow_provider_isendpro.sms.message import (
    MessageInfo,
    PreparedMessage,
    analyse_message,
    prepare_message,
    smslong_value,
)
from airflow_provider_isendpro.sms.params import (
    GMT_ZONES,
    ScheduledSend,
    schedule_send,
    validate_sender,
    validate_tracker,
)
from airflow_provider_isendpro.sms.phones import (
    FRENCH_OVERSEAS_REGIONS,
    NumberCheck,
    NumberOutcome,
    PhoneNumber,
    mask_number,
    normalise_number,
    normalise_numbers,
    region_name,
)
from airflow_provider_isendpro.sms.quiet_hours import check_quiet_hours, french_public_holidays
from airflow_provider_isendpro.sms.text import (
    GSM_BASIC,
    GSM_EXTENSION,
    ISENDPRO_MAX_SEGMENTS,
    STOP_SUFFIX_LENGTH,
    count_segments,
    is_gsm,
    non_gsm_characters,
)
from airflow_provider_isendpro.sms.translit import Transliteration, transliterate

__all__ = [
    "FRENCH_OVERSEAS_REGIONS",
    "GMT_ZONES",
    "GSM_BASIC",
    "GSM_EXTENSION",
    "ISENDPRO_MAX_SEGMENTS",
    "STOP_SUFFIX_LENGTH",
    "MessageInfo",
    "NumberCheck",
    "NumberOutcome",
    "PhoneNumber",
    "PreparedMessage",
    "ScheduledSend",
    "SendEstimate",
    "Transliteration",
    "analyse_message",
    "check_quiet_hours",
    "count_segments",
    "estimate_send",
    "french_public_holidays",
    "is_gsm",
    "mask_number",
    "non_gsm_characters",
    "normalise_number",
    "normalise_numbers",
    "prepare_message",
    "region_name",
    "schedule_send",
    "smslong_value",
    "transliterate",
    "validate_sender",
    "validate_tracker",
]
