"""The fast personalisation renderer gives exactly what Jinja gives, or hands over to Jinja."""

from __future__ import annotations

from typing import Any

import jinja2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from airflow_provider_isendpro.sending.render import compile_renderer, jinja_renderer

CONTEXT = {"ds": "2026-11-25", "dag": {"dag_id": "promo"}}
TEMPLATES = [
    "Bonjour {{ recipient.name }}, RDV le {{ ds }} ({{ dag.dag_id }})",
    "{{ recipient['name'] }}{{ recipient.slot }}",
    "{{ recipient.name | upper }} !",  # a filter on a field: Jinja's path
    "{% if recipient.vip %}VIP {% endif %}{{ recipient.name }}",  # logic: Jinja's path
    "Plain text, no field",
    "{{ recipient.count + 1 }} messages",
]


@pytest.mark.parametrize("source", TEMPLATES)
@pytest.mark.parametrize(
    "fields",
    [
        {"name": "Zoé", "slot": "9h", "vip": True, "count": 2},
        {"name": 42, "slot": None, "vip": False, "count": 0},
        {"slot": "10h", "count": 1},  # a missing field
        None,
    ],
)
def test_fast_renderer_matches_jinja(source: str, fields: dict[str, Any] | None) -> None:
    env = jinja2.Environment()
    try:
        expected = jinja_renderer(env, source, CONTEXT)(fields)
    except Exception as exc:
        with pytest.raises(type(exc)):
            compile_renderer(env, source, CONTEXT)(fields)
        return
    assert compile_renderer(env, source, CONTEXT)(fields) == expected


def test_strict_undefined_missing_field_raises_like_jinja() -> None:
    env = jinja2.Environment(undefined=jinja2.StrictUndefined)
    render = compile_renderer(env, "Hi {{ recipient.name }}", CONTEXT)
    assert render({"name": "Ana"}) == "Hi Ana"
    with pytest.raises(jinja2.UndefinedError):
        render({})


def test_per_task_expressions_are_rendered_once() -> None:
    calls = []

    def stamp() -> str:
        calls.append(1)
        return "T"

    env = jinja2.Environment()
    render = compile_renderer(env, "{{ stamp() }}-{{ recipient.n }}", {"stamp": stamp})
    assert [render({"n": i}) for i in range(3)] == ["T-0", "T-1", "T-2"]
    assert len(calls) == 1


@settings(max_examples=100)
@given(
    st.dictionaries(
        st.sampled_from(["name", "slot", "city"]),
        st.one_of(st.text(max_size=8), st.integers(), st.floats(allow_nan=False), st.booleans()),
    )
)
def test_random_rows_render_identically(fields: dict[str, Any]) -> None:
    env = jinja2.Environment()
    source = "{{ recipient.name }}/{{ recipient['slot'] }}/{{ recipient.city }} {{ ds }}"
    assert compile_renderer(env, source, CONTEXT)(fields) == jinja_renderer(env, source, CONTEXT)(fields)
