"""Generic request validation driven by the packaged official spec (``openapi.json``).

Reading the spec instead of hand-copying field lists keeps the emulator honest: a field, enum value or
required flag that the contract changes is picked up without touching the emulator's code.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any

SPEC_FILE = "openapi.json"
IGNORED_FIELDS = frozenset({"numAzur"})
"""Declared by the spec but meaningless (API-NOTES §11 #20): neither validated nor used."""


class SpecViolation(Exception):
    """A request the real API would reject; ``kind`` is a key of the emulator's code table."""

    def __init__(self, kind: str, field: str | None, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.field = field
        self.message = message


@dataclass(frozen=True, slots=True)
class Prop:
    name: str
    type: str  # "string", "array", "number"...
    enum: tuple[str, ...] | None
    item_type: str | None
    item_enum: tuple[str, ...] | None


@dataclass(frozen=True, slots=True)
class Operation:
    """One operation of the spec: where its parameters travel and what they must look like."""

    operation_id: str
    method: str
    path: str
    location: str  # "query" or "body"
    props: Mapping[str, Prop]
    required: tuple[str, ...]

    def prop_lower(self) -> dict[str, str]:
        return {name.lower(): name for name in self.props}


@functools.cache
def load_spec() -> dict[str, Any]:
    """The packaged spec, parsed once."""
    text = resources.files(__package__).joinpath(SPEC_FILE).read_text(encoding="utf-8")
    spec: dict[str, Any] = json.loads(text)
    return spec


def _resolve(spec: Mapping[str, Any], node: Mapping[str, Any]) -> Mapping[str, Any]:
    while "$ref" in node:
        ref = str(node["$ref"])
        target: Any = spec
        for part in ref.removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def _prop(spec: Mapping[str, Any], name: str, schema: Mapping[str, Any]) -> Prop:
    schema = _resolve(spec, schema)
    items = _resolve(spec, schema["items"]) if "items" in schema else None
    enum = tuple(str(v) for v in schema["enum"]) if "enum" in schema else None
    item_enum = tuple(str(v) for v in items["enum"]) if items is not None and "enum" in items else None
    return Prop(
        name=name,
        type=str(schema.get("type", "string")),
        enum=enum,
        item_type=str(items.get("type", "string")) if items is not None else None,
        item_enum=item_enum,
    )


@functools.cache
def operations() -> dict[tuple[str, str], Operation]:
    """``(METHOD, "/path") -> Operation`` for the 14 operations of the spec."""
    spec = load_spec()
    table: dict[tuple[str, str], Operation] = {}
    for path, methods in spec["paths"].items():
        for method, op in methods.items():
            if "requestBody" in op:
                body = _resolve(spec, op["requestBody"]["content"]["application/json"]["schema"])
                props = {n: _prop(spec, n, s) for n, s in body.get("properties", {}).items()}
                required = tuple(body.get("required", ()))
                location = "body"
            else:
                params = [_resolve(spec, p) for p in op.get("parameters", ())]
                props = {p["name"]: _prop(spec, p["name"], p.get("schema", {})) for p in params}
                required = tuple(p["name"] for p in params if p.get("required"))
                location = "query"
            table[(method.upper(), path)] = Operation(
                operation_id=str(op["operationId"]),
                method=method.upper(),
                path=path,
                location=location,
                props=props,
                required=required,
            )
    return table


def _type_name(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    if value is None:
        return "null"
    return "string"


def _enum_text(enum: tuple[str, ...]) -> str:
    if len(enum) == 1:
        return f"{enum[0]!r} (the only allowed value)"
    if len(enum) <= 6:
        return "one of " + ", ".join(repr(v) for v in enum)
    return f"one of the {len(enum)} values the spec allows"


def _scalar(op: Operation, name: str, value: Any, *, strict_types: bool) -> str:
    if isinstance(value, str):
        return value
    if not strict_types and isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    raise SpecViolation(
        "invalid_value",
        name,
        f"'{name}' must be a string, got {_type_name(value)}",
    )


def validate(
    op: Operation,
    params: Mapping[str, Any],
    *,
    from_form: bool = False,
    case_sensitive: bool = True,
    strict_types: bool = True,
    optional: frozenset[str] = frozenset(),
    string_as_array: frozenset[str] = frozenset(),
) -> dict[str, Any]:
    """Check ``params`` against the operation's schema; return them with spec names and clean types.

    Unknown fields (``sandbox``...) pass through untouched. ``optional`` lifts a ``required`` flag (for
    documented leniencies); ``string_as_array`` accepts a plain string for those array fields. Form
    bodies cannot express one-element arrays, so a single form value is taken as a one-element array.
    """
    lower = op.prop_lower()
    data: dict[str, Any] = {}
    for key, value in params.items():
        name = key if case_sensitive else lower.get(key.lower(), key)
        if name in IGNORED_FIELDS:
            continue
        data[name] = value
    for name in op.required:
        if name in optional:
            continue
        value = data.get(name)
        if value is None or value in ("", []):
            raise SpecViolation("missing_field", name, f"'{name}' ({op.method} {op.path})")
    for name, prop in op.props.items():
        if name not in data or name in IGNORED_FIELDS:
            continue
        value = data[name]
        if prop.type == "array":
            if isinstance(value, str) and (from_form or name in string_as_array):
                value = [value]
            if not isinstance(value, list):
                raise SpecViolation(
                    "invalid_value",
                    name,
                    f"'{name}' must be an array of strings, got {_type_name(value)}",
                )
            items = [_scalar(op, name, v, strict_types=strict_types) for v in value]
            if prop.item_enum is not None:
                for item in items:
                    if item not in prop.item_enum:
                        raise SpecViolation(
                            "invalid_value",
                            name,
                            f"{item!r} in '{name}' is not {_enum_text(prop.item_enum)}",
                        )
            data[name] = items
        elif prop.type in ("number", "integer"):
            if isinstance(value, bool) or not isinstance(value, (str, int, float)):
                raise SpecViolation("invalid_value", name, f"'{name}' must be a number")
            try:
                float(value)
            except ValueError:
                raise SpecViolation(
                    "invalid_value", name, f"'{name}' must be a number, got {value!r}"
                ) from None
            data[name] = str(value)
        else:
            text = _scalar(op, name, value, strict_types=strict_types)
            if prop.enum is not None and text not in prop.enum:
                raise SpecViolation(
                    "invalid_value",
                    name,
                    f"'{name}' = {text!r} is not {_enum_text(prop.enum)}",
                )
            data[name] = text
    return data
