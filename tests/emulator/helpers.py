"""Helpers for the emulator's own tests: a plain ``requests`` client (not the project's client)."""

from __future__ import annotations

import io
import zipfile
from typing import Any

import requests

from airflow_provider_isendpro.testing import IsendproEmulator

TIMEOUT = 5.0


class Api:
    """Thin wrapper: JSON/form/query calls to one emulator with its key filled in."""

    def __init__(self, emu: IsendproEmulator, session: requests.Session) -> None:
        self.emu = emu
        self.session = session
        self.key = emu.api_key

    def url(self, path: str) -> str:
        return self.emu.base_url + path

    def json(self, path: str, body: dict[str, Any], method: str = "POST", **kw: Any) -> requests.Response:
        body = {"keyid": self.key, **body}
        return self.session.request(
            method, self.url(path), json=body, timeout=kw.pop("timeout", TIMEOUT), **kw
        )

    def form(self, path: str, body: dict[str, Any], method: str = "POST", **kw: Any) -> requests.Response:
        body = {"keyid": self.key, **body}
        return self.session.request(
            method, self.url(path), data=body, timeout=kw.pop("timeout", TIMEOUT), **kw
        )

    def query(self, path: str, params: dict[str, Any], method: str = "POST", **kw: Any) -> requests.Response:
        params = {"keyid": self.key, **params}
        return self.session.request(
            method, self.url(path), params=params, timeout=kw.pop("timeout", TIMEOUT), **kw
        )

    def control(self, method: str, name: str, **kw: Any) -> requests.Response:
        return self.session.request(method, f"{self.emu.root_url}/_emulator/{name}", timeout=TIMEOUT, **kw)


def entries(response: requests.Response) -> list[dict[str, Any]]:
    """``etat.etat`` as a list, whatever the shape."""
    outer = response.json()["etat"]
    inner = outer.get("etat", outer)
    return [inner] if isinstance(inner, dict) else list(inner)


def error(response: requests.Response, status: int = 400) -> tuple[str, str]:
    """Assert an ``Erreur`` body and return ``(code, message)``."""
    assert response.status_code == status, response.text
    body = response.json()
    (entry,) = body["etat"]["etat"]
    assert set(entry) == {"code", "message"}
    assert isinstance(entry["code"], str)
    return entry["code"], entry["message"]


def unzip(response: requests.Response) -> tuple[str, str]:
    """``(entry name, text)`` of the single CSV inside a zip response."""
    assert response.status_code == 200, response.text
    with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
        (name,) = archive.namelist()
        return name, archive.read(name).decode("utf-8")
