"""hub.messages is the one source of message types: every type a connector delivers, the hub
writes, or a client subscribes to is one of its entries."""

from __future__ import annotations

import typing

import pytest
from pydantic import ValidationError

from hub import messages
from hub.schemas import render
from hub.subscriptions.api import NewSubscription


def test_every_type_has_a_model_and_a_version() -> None:
    for name, t in messages.TYPES.items():
        assert t.name == name and t.version >= 1 and t.model.model_json_schema()


def test_published_types_are_the_exported_schemas() -> None:
    assert sorted(render()) == sorted(f"{t.name}.v{t.version}.json" for t in messages.published())


def test_subscribable_events_are_the_events() -> None:
    (literal,) = typing.get_args(NewSubscription.model_fields["event_types"].annotation)
    assert typing.get_args(literal) == messages.EVENTS
    assert set(messages.EVENTS) <= set(messages.TYPES)


def test_parse_knows_only_its_types() -> None:
    with pytest.raises(KeyError):
        messages.parse("no.such.type", {})
    with pytest.raises(ValidationError):
        messages.parse(messages.POSTAL_CANCEL_REQUESTED, {"order_number": 1})
