"""The client operations of the provider as test rows: how to call each, what state it needs first.

Shared by the fault matrix and the timeout tests. ``repeatable`` restates the safety class of each
operation (DESIGN.md): a read or an idempotent change may be repeated, a send, a billed lookup or a
creation may not.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from airflow_provider_isendpro.client import ClientConfig, IsendproClient
from airflow_provider_isendpro.testing import IsendproEmulator
from tests.reliability.conftest import KEY, NO_RETRY


@dataclass(frozen=True)
class Op:
    """One client method, how to call it, what it needs on the account first, and whether it repeats."""

    method: str
    path: str
    repeatable: bool
    call: Callable[[dict[str, Any]], tuple[tuple[Any, ...], dict[str, Any]]]
    setup: Callable[[IsendproClient, dict[str, Any]], None] = field(default=lambda client, state: None)


def _with_list(client: IsendproClient, state: dict[str, Any]) -> None:
    state["list_id"] = client.create_contact_list("Astreinte").list_id
    client.add_to_contact_list(state["list_id"], ["0612345678", "0756123456"])


def _with_empty_list(client: IsendproClient, state: dict[str, Any]) -> None:
    state["list_id"] = client.create_contact_list("Astreinte").list_id


def _with_sub_account(client: IsendproClient, state: dict[str, Any]) -> None:
    state["sub_key"] = client.create_sub_account("agence06", "sub-password-1").api_key


def _with_blacklisted(client: IsendproClient, state: dict[str, Any]) -> None:
    client.blacklist_add("0756123456")


def _with_sent(client: IsendproClient, state: dict[str, Any]) -> None:
    client.send_sms("0612345678", "Rapport", tracker="T1")


OPS: tuple[Op, ...] = (
    Op("send_sms", "/sms", False, lambda s: (("0612345678", "Faute"), {"tracker": "FM1"})),
    Op("send_sms_multi", "/smsmulti", False, lambda s: ((["0612345678", "0756123456"], "Faute"), {})),
    Op("send_to_contact_list", "/smsmulti", False, lambda s: ((s["list_id"], "Faute"), {}), _with_list),
    Op("get_credit", "/credit", True, lambda s: ((), {})),
    Op("hlr_lookup", "/hlr", False, lambda s: ((["0612345678", "0756123456"],), {})),
    Op("count_message", "/comptage", True, lambda s: (("0612345678", "Bonjour"), {})),
    Op(
        "download_campaign_report",
        "/campagne",
        True,
        lambda s: (("2000-01-01", "2099-01-01", s["tmp"] / "report.zip"), {}),
        _with_sent,
    ),
    Op("create_contact_list", "/repertoire", False, lambda s: (("Astreinte",), {})),
    Op(
        "add_to_contact_list",
        "/repertoire",
        False,
        lambda s: ((s["list_id"], ["0612345678"]), {"names": ["Ann"]}),
        _with_empty_list,
    ),
    Op(
        "remove_from_contact_list",
        "/repertoire",
        True,
        lambda s: ((s["list_id"], ["0612345678"]), {}),
        _with_list,
    ),
    Op("blacklist_add", "/setlistenoire", True, lambda s: (("0756123456",), {})),
    Op("blacklist_remove", "/dellistenoire", True, lambda s: (("0756123456",), {}), _with_blacklisted),
    Op(
        "download_blacklist",
        "/getlistenoire",
        True,
        lambda s: ((s["tmp"] / "blacklist.zip",), {}),
        _with_blacklisted,
    ),
    Op("create_short_link", "/shortlink", False, lambda s: (("https://example.com/a",), {})),
    Op("create_sub_account", "/subaccount", False, lambda s: (("agence07", "sub-password-2"), {})),
    Op(
        "set_sub_account_price",
        "/subaccount",
        True,
        lambda s: ((s["sub_key"], 0.04, "33"), {}),
        _with_sub_account,
    ),
    Op(
        "add_sub_account_credit",
        "/subaccount",
        False,
        lambda s: ((s["sub_key"], 1.5), {}),
        _with_sub_account,
    ),
    Op(
        "set_sub_account_restrictions",
        "/subaccount",
        True,
        lambda s: ((s["sub_key"],), {"stop_mention": True, "quiet_hours": False}),
        _with_sub_account,
    ),
)


def effects(emu: IsendproEmulator) -> dict[str, Any]:
    """Everything an operation can change on the account (request counters and armed faults aside)."""
    snapshot = emu.snapshot()
    del snapshot["stats"], snapshot["faults"]
    snapshot["sent"] = [(s.tel, s.text, s.tracker) for s in emu.sent]
    snapshot["hlr_lookups"] = emu.stats["hlr_lookups"]
    return snapshot


def prepare(emu: IsendproEmulator, op: Op, tmp: Path) -> dict[str, Any]:
    emu.reset()
    state: dict[str, Any] = {"tmp": tmp}
    with IsendproClient(ClientConfig(api_key=KEY, base_url=emu.base_url, retry=NO_RETRY)) as setup:
        op.setup(setup, state)
    return state
