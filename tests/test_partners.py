"""hub.partners: one vocabulary for every connector's classification and errors."""

from __future__ import annotations

from connectors.national_portal.errors import PortalError
from connectors.webhooks.client import classify as classify_webhook
from hub.partners import Classified, PartnerError, PermanentError, RetryableError, Verdict, normalise_code


def test_codes_normalise_alike() -> None:
    assert [normalise_code(v) for v in (0, "00", " 0 ", "-03", "abc ", None, True)] == [
        "0", "0", "0", "-3", "abc", None, None,
    ]  # fmt: skip


def test_bases_say_retryable() -> None:
    assert RetryableError().retryable and RetryableError().verdict is Verdict.RETRYABLE
    assert not PermanentError().retryable and PermanentError().verdict is Verdict.PERMANENT
    for verdict, retryable in ((Verdict.RETRYABLE, True), (Verdict.AUTH, True), (Verdict.PERMANENT, False)):
        error = PortalError("op", Classified(verdict))
        assert isinstance(error, PartnerError) and error.retryable is retryable and error.verdict is verdict


def test_webhook_answers_classified_by_status() -> None:
    verdicts = {s: classify_webhook(s).verdict for s in (200, 204, 301, 410, 404, 429, 500)}
    assert verdicts == {
        200: Verdict.OK, 204: Verdict.OK, 301: Verdict.PERMANENT, 410: Verdict.PERMANENT,
        404: Verdict.RETRYABLE, 429: Verdict.RETRYABLE, 500: Verdict.RETRYABLE,
    }  # fmt: skip
