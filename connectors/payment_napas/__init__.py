"""Payment gateways — NAPAS and PayGov (DvcPayment) behind one port, for dossier fee payments.

Capability card
---------------
- **Port** (``hub.payments.port``, the hub's): ``PaymentGateway`` with ``create_order``, ``query``, ``parse_callback``,
  ``callback_reply``, ``close``; ``build_gateway(profile)`` for ``PROFILES = ("napas", "paygov")``.
  Each profile is one small class (``napas.py``, ``paygov.py``: build, sign, verify, map codes, reply);
  ``client.py`` adds HTTP, the NAPAS token cache and the query retries.
- **napas** — NAPAS Payment v3 via an intermediary, REST/JSON. Auth: OAuth2 client credentials (form POST
  ``…/api/oauth/token``) -> ``Authorization: Bearer``, cached until ``token_renew_margin_seconds`` before
  expiry, renewed once on HTTP 401. Operations: ``PUT …/{merchantId}/order/{orderId}/transaction/{transId}``
  (open a hosted-page order, answer ``paymentUrl`` [I]), ``GET …/{merchantId}/order/{orderId}/domestic``
  (status). Result notification ``{data: base64(JSON), checksum}``, ``checksum = hex SHA-256(data + clientSecret)``
  [C, himlam]; HMAC-SHA256 selectable [I].
- **paygov** — PayGov / DvcPayment message format v1.0.6, REST/JSON with a static ``Authorization: Bearer``.
  ``INIT`` (answer ``{error_code, message: JSON{UrlThanhToan}}``) and ``QUERY`` (answer with ``MaLoi``,
  ``TrangThaiGD``), ``MaXacThuc`` = hex SHA-256 of the ``|``-joined fields + secret [C, THH]; callback with
  ``MaLoi`` ("00" = paid); an accepted callback is answered with its ``MaLoi``, ``ThoiGianGD`` and
  ``MaXacThuc`` echoed [C, THH], a refused one with the hub's signed ``reply_codes`` [I]. ``ThongTinBienLai``
  carries the agency's beneficiary and unit name (``PaymentOrder.beneficiary``, from the agency directory),
  the procedure's name and the payer's ID number (``000000000`` when absent) [C]; text in NFC; an amount other
  than the fee lines' sum, or no beneficiary, is refused before sending. ``ThoiGianGD`` of INIT is
  ``PaymentOrder.opened_at`` (recorded by the hub), and QUERY sends it again [C]; ``MaLoi`` "00" +
  ``TrangThaiGD`` 1 paid, 3 pending, 4 failed [C]; any other ``MaLoi`` is an error, never a state.
  Callback freshness is judged on the signed ``ThoiGianGD``, which may be the INIT time:
  ``callback_max_age_seconds`` 86,400 for PayGov [I].
- **Idempotency key**: ``PaymentOrder.reference`` = the hub's payment id (ULID) = NAPAS ``orderId`` = PayGov
  ``MaThamChieu`` (merchant reference). ``create_order`` is not retried (not documented as idempotent): a call
  that may have reached the gateway raises ``GatewayTimeout`` (in doubt; settle by ``query``). ``query`` retries
  ``RetryableGatewayError`` up to ``query_attempts`` times. Classification: ``errors.py`` (into the port's errors).
- **Callbacks**: signature checked in constant time (``hmac.compare_digest``), freshness against
  ``callback_max_age_seconds`` (NAPAS 900, PayGov 86,400) and ``callback_max_skew_seconds``, merchant; else
  ``CallbackRejected(reason)``, reason in bad_signature / stale / malformed / wrong_merchant. Duplicates are
  the hub's to de-duplicate by ``reference``; ``callback_reply`` answers each case in the gateway's format.
- **Inferred [I], configurable** (``HUB_NAPAS_*``, ``HUB_PAYGOV_*``, ``config.py``): see each profile's
  docstring; nothing secret or personal (tokens, secrets, payer name) is logged or put in an exception.
- **Mock** (``mock.py``, ``python -m connectors.payment_napas.mock --port 8102``): both profiles (``/napas``,
  ``/paygov``) with their validation, a payment page per order (Pay / Decline / Abandon) and the same actions
  as JSON (``/_mock/orders/{ref}/pay|decline|abandon``), signed callbacks to the hub, admin views, and faults:
  duplicate (parallel) callbacks, late callbacks, callbacks never sent, bad signatures, amount mismatch,
  hangs longer than the client timeout, 5xx rate, manual resend of an old callback. PayGov's rules, strict
  (default) and lenient, and what the mock cannot know: ``mock_rules.py`` (``GET /_mock/card``).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import httpx

from hub.payments.port import PaymentGateway

from .client import NapasGateway, PayGovGateway
from .config import NapasSettings, PayGovSettings

KIND = "payment_gateway"  # implements hub.payments.port.PaymentGateway (synchronous; no queue)
PROFILES: tuple[str, ...] = ("napas", "paygov")

__all__ = ["KIND", "PROFILES", "NapasGateway", "NapasSettings", "PayGovGateway", "PayGovSettings", "build_gateway"]


def build_gateway(
    profile: str,
    settings: NapasSettings | PayGovSettings | None = None,
    *,
    http: httpx.Client | None = None,
    clock: Callable[[], datetime] | None = None,
) -> PaymentGateway:
    """The gateway of ``profile``; settings default to the environment. Opens no connection."""
    if profile == "napas":
        if settings is not None and not isinstance(settings, NapasSettings):
            raise TypeError("the napas profile takes NapasSettings")
        return NapasGateway(settings, http=http, clock=clock)
    if profile == "paygov":
        if settings is not None and not isinstance(settings, PayGovSettings):
            raise TypeError("the paygov profile takes PayGovSettings")
        return PayGovGateway(settings, http=http, clock=clock)
    raise ValueError(f"unknown payment profile {profile!r}; known: {', '.join(PROFILES)}")
