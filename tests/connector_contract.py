"""The contract every partner connector meets: one suite, run against each implementation.

Like ``tests/transport_contract.py`` for transports. Subclass in a ``test_*.py`` module (pytest
collects the subclass, not these bases):

- :class:`DeliveryConnectorContract` for a ``hub.ports.Connector`` (the national portal, the
  webhooks, VNPost's ledger connector, and the fake of ``tests/fakes.py``): each subclass says how to
  build the connector against its double (its mock in process, or a scripted ``httpx`` double) and
  how to read what the partner holds;
- :class:`SyncPortContract` for a synchronous port (``hub.payments.port.PaymentGateway``,
  ``hub.citizens.port.PopulationDb``): a table of partner answers and the error each becomes.

What a delivery connector must do (``hub/ports.py`` says some of it; the rest is fixed here):
- one ``Outcome`` per item, in the order of the items;
- an exception inside the partner call (a bug of a library, of the double, of the network stack)
  becomes RETRY for the items it touched: ``deliver`` neither raises nor makes the item dead;
- a message type the connector does not handle becomes DEAD, and nothing is sent for it;
- a redelivery in doubt is harmless: when the partner already has the change, it has it once
  afterwards (the connector's in-doubt lookup, or the partner's idempotency key);
- the partner's answers are classified as the table says (``Answer``: what the partner answers,
  the ``Verdict`` it means, and the phrase of the capability card that states it);
- the capability card is present (the headings the style asks for) and true: the card's answers
  are the table's, its message types are the connector's, its settings exist.
"""

from __future__ import annotations

import abc
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any, ClassVar

import pytest
from pydantic_settings import BaseSettings

from hub import messages
from hub.partners import PartnerError, PermanentError, RetryableError, Verdict
from hub.ports import Connector, DeliveryItem, OutcomeKind

UNKNOWN_TYPE = "contract.unknown.type"
# what the worker records for each verdict of the partner's answer
KIND_OF: dict[Verdict, OutcomeKind] = {
    Verdict.OK: OutcomeKind.DELIVERED,
    Verdict.ALREADY: OutcomeKind.DELIVERED,
    Verdict.AUTH: OutcomeKind.RETRY,  # renewed once, refused again: try later
    Verdict.RETRYABLE: OutcomeKind.RETRY,
    Verdict.PERMANENT: OutcomeKind.DEAD,
    Verdict.NOT_FOUND: OutcomeKind.DEAD,
}


@dataclass(frozen=True)
class Answer:
    """One answer of the partner: its HTTP status and body (what the double answers), or an
    exception the call raises instead (``raises``), the verdict it means, and the words of the
    capability card that state it (``on_card``, compared with the card's whitespace folded)."""

    name: str
    verdict: Verdict
    status: int = 200
    body: Any = None
    raises: type[Exception] | None = None
    on_card: str = ""


def _folded(text: str) -> str:
    return re.sub(r"\s+", " ", text)


def card_of(doc: str | None) -> str:
    """The capability card: the docstring's text from its "Capability card" heading on."""
    text = doc or ""
    assert "Capability card" in text, "no capability card"
    return text[text.index("Capability card") :]


def check_card_settings(card: str, settings: type[BaseSettings]) -> None:
    """Every ``HUB_<PREFIX>_<NAME>`` the card names (not a ``*`` family) is a field of ``settings``."""
    prefix = str(settings.model_config.get("env_prefix", ""))
    assert prefix, f"{settings.__name__} has no env_prefix"
    named = {n.lower() for n in re.findall(rf"\b{re.escape(prefix.upper())}([A-Z0-9_]*[A-Z0-9])\b", card)}
    missing = named - set(settings.model_fields)
    assert not missing, f"the card names settings that do not exist: {sorted(missing)}"


class DeliveryConnectorContract(abc.ABC):
    """The contract of a ``hub.ports.Connector``."""

    # the partner's answers and what they mean (at least one of each outcome kind)
    ANSWERS: ClassVar[Sequence[Answer]] = ()
    # headings every card has (style.md: protocol, auth, messages, idempotency key, answers)
    HEADINGS: ClassVar[Sequence[str]] = ("Protocol", "Auth", "Message", "Idempotency key", "Answers")

    # ------------------------------------------------------------ what a subclass provides
    @abc.abstractmethod
    def make(self) -> Connector:
        """A fresh connector against its double (the partner's mock, usually in process)."""

    @abc.abstractmethod
    def item(self) -> DeliveryItem:
        """A valid first attempt of a fresh change (a new key each time), for ``make()``'s connector."""

    @abc.abstractmethod
    def ref_of(self, item: DeliveryItem) -> str:
        """The ``partner_ref`` the outcome of ``item`` carries once it is delivered."""

    @abc.abstractmethod
    def copies_at_partner(self, item: DeliveryItem) -> int:
        """How many times the partner (the double behind ``make()``) holds the change of ``item``."""

    @abc.abstractmethod
    def breaking(self, exc: Exception) -> Connector:
        """A connector whose partner call raises ``exc`` (as a library bug would)."""

    @abc.abstractmethod
    def answering(self, answer: Answer) -> Connector:
        """A connector against a double that gives ``answer`` to the call the table is about."""

    @abc.abstractmethod
    def card(self) -> str:
        """The capability card's text (``card_of(package.__doc__)``)."""

    @abc.abstractmethod
    def package_names(self) -> tuple[str, tuple[str, ...]]:
        """What the package declares: its ``NAME`` and ``MESSAGE_TYPES``."""

    def card_settings(self) -> type[BaseSettings] | None:
        """The connector's settings class, whose fields the card's ``HUB_*`` names must be."""
        return None

    # ------------------------------------------------------------ the contract
    @pytest.fixture
    def built(self) -> Iterator[Callable[[Connector], Connector]]:
        """Closes every connector a test builds."""
        made: list[Connector] = []

        def keep(c: Connector) -> Connector:
            made.append(c)
            return c

        yield keep
        for c in made:
            c.close()

    def test_one_outcome_per_item_in_input_order(self, built: Callable[[Connector], Connector]) -> None:
        connector = built(self.make())
        items = [self.item(), self.item(), self.item()]
        unknown = replace(self.item(), type=UNKNOWN_TYPE)
        batch = [items[0], unknown, items[1], items[2]]
        outcomes = connector.deliver(batch)
        assert len(outcomes) == len(batch)
        assert [o.kind for o in outcomes] == [OutcomeKind.DELIVERED, OutcomeKind.DEAD] + [OutcomeKind.DELIVERED] * 2
        delivered = [o.partner_ref for o in outcomes if o.kind is OutcomeKind.DELIVERED]
        assert delivered == [self.ref_of(it) for it in items], "outcomes out of the items' order"
        assert connector.deliver([]) == []

    @pytest.mark.parametrize("exc", [RuntimeError("a bug in a library"), KeyError("x"), OSError("socket")])
    def test_an_exception_in_the_partner_call_becomes_retry(
        self, exc: Exception, built: Callable[[Connector], Connector]
    ) -> None:
        connector = built(self.breaking(exc))
        items = [self.item(), self.item()]
        outcomes = connector.deliver(items)  # must not raise
        assert [o.kind for o in outcomes] == [OutcomeKind.RETRY] * 2
        assert all(o.in_doubt for o in outcomes), "an exception after the request left: the partner may have it"

    def test_an_unknown_message_type_is_dead_and_not_sent(self, built: Callable[[Connector], Connector]) -> None:
        connector = built(self.make())
        assert UNKNOWN_TYPE not in connector.message_types
        it = replace(self.item(), type=UNKNOWN_TYPE)
        (outcome,) = connector.deliver([it])
        assert outcome.kind is OutcomeKind.DEAD and UNKNOWN_TYPE in outcome.detail
        assert self.copies_at_partner(it) == 0

    def test_a_redelivery_in_doubt_is_harmless(self, built: Callable[[Connector], Connector]) -> None:
        connector = built(self.make())
        first = self.item()
        assert [o.kind for o in connector.deliver([first])] == [OutcomeKind.DELIVERED]
        assert self.copies_at_partner(first) == 1
        # the worker lost the answer (a timeout, a crash before recording): the same message again
        again = replace(first, attempt=2, in_doubt=True, key_known_to_partner=True)
        (outcome,) = built(self.make()).deliver([again])
        assert outcome.kind is OutcomeKind.DELIVERED and outcome.partner_ref == self.ref_of(first)
        assert self.copies_at_partner(first) == 1, "the partner got the change twice"

    def test_the_partners_answers_are_classified(self, built: Callable[[Connector], Connector]) -> None:
        assert {KIND_OF[a.verdict] for a in self.ANSWERS} == set(OutcomeKind), "the table misses an outcome"
        for answer in self.ANSWERS:
            (outcome,) = built(self.answering(answer)).deliver([self.item()])
            assert outcome.kind is KIND_OF[answer.verdict], (answer.name, outcome)

    def test_the_capability_card_is_present_and_true(self, built: Callable[[Connector], Connector]) -> None:
        card = _folded(self.card())
        missing = [h for h in self.HEADINGS if f"**{h}" not in card]
        assert not missing, f"the card has no {missing}"
        connector = built(self.make())
        name, types = self.package_names()
        assert connector.name == name and connector.message_types == types
        assert connector.message_types and set(connector.message_types) <= set(messages.TYPES)
        named = {t for t in re.findall(r"``([a-z_]+(?:\.[a-z_]+)+)``", card) if t in messages.TYPES}
        assert named and named <= set(connector.message_types), named - set(connector.message_types)
        for answer in self.ANSWERS:  # each answer the card states is one the table runs
            assert answer.on_card, f"{answer.name}: the card does not state this answer"
            assert _folded(answer.on_card) in card, f"{answer.name}: {answer.on_card!r} not on the card"
        settings = self.card_settings()
        if settings is not None:
            check_card_settings(card, settings)


class SyncPortContract(abc.ABC):
    """The contract of a synchronous port: every partner answer that is not a result raises the
    port's own error family, on the shared bases (``hub.partners``): retryable or permanent."""

    ANSWERS: ClassVar[Sequence[Answer]] = ()
    HEADINGS: ClassVar[Sequence[str]] = ("Protocol", "Auth", "Idempotency", "Port")
    FAMILY: ClassVar[type[PartnerError]] = PartnerError  # the port's error base
    KIND: ClassVar[str] = ""  # the package's KIND

    @abc.abstractmethod
    def call(self, answer: Answer) -> object:
        """Make the port's call against a double that gives ``answer``; return what the call returned."""

    @abc.abstractmethod
    def card(self) -> str: ...

    @abc.abstractmethod
    def package_kind(self) -> str: ...

    def card_settings(self) -> Sequence[type[BaseSettings]]:
        return ()

    def test_errors_are_classified_into_the_shared_families(self) -> None:
        assert {a.verdict for a in self.ANSWERS} >= {Verdict.RETRYABLE, Verdict.PERMANENT}, "the table is too short"
        for answer in self.ANSWERS:
            if answer.verdict is Verdict.OK:
                self.call(answer)  # an answer, not an error
                continue
            with pytest.raises(self.FAMILY) as caught:
                self.call(answer)
            err = caught.value
            retryable = answer.verdict in (Verdict.RETRYABLE, Verdict.AUTH)
            assert isinstance(err, RetryableError if retryable else PermanentError), (answer.name, err)
            assert err.retryable is retryable and err.verdict is (Verdict.RETRYABLE if retryable else Verdict.PERMANENT)

    def test_the_capability_card_is_present_and_true(self) -> None:
        card = _folded(self.card())
        missing = [h for h in self.HEADINGS if f"**{h}" not in card]
        assert not missing, f"the card has no {missing}"
        assert self.package_kind() == self.KIND
        for answer in self.ANSWERS:
            assert answer.on_card and _folded(answer.on_card) in card, f"{answer.name}: not on the card"
        for settings in self.card_settings():
            check_card_settings(card, settings)
