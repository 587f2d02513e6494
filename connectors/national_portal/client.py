"""HTTP client of the national portal (DVCQG) and the connector the hub's workers call.

``NationalPortalClient`` speaks the protocol of the configured variant (``config.py``): the adapter's
(login, session in the body, ``dstcode`` header) or an LGSP's (bare arrays, one URL per operation, the
unit code in the query string, the LGSP's credentials in headers), and raises :class:`PortalError` with a
classification; ``NationalPortalConnector`` turns canonical items into portal calls and every answer into
an ``Outcome``.
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import httpx
import structlog

from hub.agencies.port import DEFAULT_PROFILE, AgencyDirectory
from hub.http import FormHttp, HttpFailure, HttpxHttp, JsonHttp, PooledHttp
from hub.messages import DOSSIER_FEE_PAID, DOSSIER_POSTAL_STEP, DOSSIER_STATUS_CHANGED
from hub.partners import Classified, Verdict
from hub.ports import NOT_ATTEMPTED, Connector, DeliveryItem, LeaseBudget, Outcome, OutcomeKind
from hub.privacy import scrub

from . import translate as tr
from .config import NationalPortalSettings
from .errors import Codes, PortalError, classify
from .units import AgencyUnits, Problem, Route

log = structlog.get_logger("connectors.national_portal")

NAME = "national_portal"
MESSAGE_TYPES: tuple[str, ...] = (DOSSIER_STATUS_CHANGED, DOSSIER_FEE_PAID, DOSSIER_POSTAL_STEP)
# message type -> (canonical payload -> HoSo or None, canonical payload -> progress entry)
_TRANSLATORS: dict[str, tuple[Callable[..., dict[str, Any] | None], Callable[..., dict[str, Any]]]] = {
    DOSSIER_STATUS_CHANGED: (tr.to_hoso, tr.to_progress),
    DOSSIER_FEE_PAID: (tr.fee_paid_hoso, tr.fee_paid_progress),
    DOSSIER_POSTAL_STEP: (tr.postal_step_hoso, tr.postal_step_progress),
}


class NationalPortalClient:
    """Calls the portal. Thread-safe; the session is cached and renewed once per call when it expires.

    Every operation takes an optional ``budget`` (the attempt's ``LeaseBudget``): each HTTP
    request (a login too) starts only if it would end, after its whole timeout, within it;
    otherwise the operation raises a retryable ``PortalError`` that sent nothing."""

    def __init__(
        self, settings: NationalPortalSettings | None = None, http: httpx.Client | JsonHttp | None = None
    ) -> None:
        self.settings = settings or NationalPortalSettings()
        self._http: JsonHttp | None = HttpxHttp(http) if isinstance(http, httpx.Client) else http
        self._owns_http = http is None
        self._session: str | None = None
        self._lock = threading.Lock()
        self._token: tuple[str, float] | None = None  # oauth2: (header value, expiry on the monotonic clock)
        self._token_lock = threading.Lock()
        self.tokens_fetched = 0
        s = self.settings
        self.codes = Codes.of(s.session_expired_codes, s.already_exists_codes, s.not_found_codes, s.retryable_codes)

    @property
    def http(self) -> JsonHttp:
        if self._http is None:  # opened on first use: nothing connects at construction
            self._http = PooledHttp(self.settings.timeout, pool_size=max(4, self.settings.lookup_concurrency))
        return self._http

    def close(self) -> None:
        if self._owns_http and self._http is not None:
            self._http.close()
            self._http = None

    def _post(
        self,
        endpoint: str,
        body: Mapping[str, Any] | Sequence[Mapping[str, Any]],
        budget: LeaseBudget | None = None,
        query: Mapping[str, str] | None = None,
    ) -> tuple[Classified, dict[str, Any]]:
        if budget is not None and not budget.allows(self.settings.timeout):
            return Classified(Verdict.RETRYABLE, message=NOT_ATTEMPTED), {}
        url = self.settings.url(endpoint) + (f"?{urlencode(query)}" if query else "")
        payload: Any = dict(body) if isinstance(body, Mapping) else [dict(x) for x in body]
        headers = self.settings.auth_headers()
        if self.settings.auth == "oauth2":
            headers["Authorization"] = self._bearer(budget)
        try:
            status, parsed = self.http.post_json(url, payload, headers)
        except HttpFailure as exc:
            return classify(None, None, exc, self.codes), {}
        if isinstance(parsed, str):  # [C THH] a reply read as text: "... thành công" is success
            parsed = {"error_code": "0" if "thành công" in parsed.lower() else None, "message": parsed}
        data = parsed if isinstance(parsed, dict) else None
        return classify(status, data, None, self.codes), data or {}

    def _plain(
        self,
        operation: str,
        path: str,
        body: Mapping[str, Any] | Sequence[Mapping[str, Any]],
        query: Mapping[str, str],
        budget: LeaseBudget | None,
    ) -> dict[str, Any]:
        """One call of an LGSP variant: no session; an OAuth2 token refused is fetched again once, other
        refused credentials are the operator's to fix (retryable)."""
        for renewed in (False, True):
            classified, data = self._post(path, body, budget, query if self.settings.unit_in_query else None)
            if classified.verdict is Verdict.OK:
                return data
            if classified.verdict is Verdict.AUTH and self.settings.auth == "oauth2" and not renewed:
                with self._token_lock:
                    self._token = None
                continue
            if classified.verdict is Verdict.AUTH:
                classified = Classified(Verdict.RETRYABLE, classified.code, classified.message, classified.http_status)
            raise PortalError(operation, classified)
        raise AssertionError("unreachable")  # pragma: no cover

    def _bearer(self, budget: LeaseBudget | None) -> str:
        """``<token_type> <access_token>`` of the current OAuth2 token, fetched when there is none or it is
        due for renewal; one thread fetches, the others wait for it."""
        with self._token_lock:
            token = self._token
            if token is None or time.monotonic() >= token[1] - self.settings.token_renew_before:
                token = self._token = self._fetch_token(budget)
            return token[0]

    def _fetch_token(self, budget: LeaseBudget | None) -> tuple[str, float]:
        s = self.settings
        if budget is not None and not budget.allows(s.timeout):
            raise PortalError("token", Classified(Verdict.RETRYABLE, message=NOT_ATTEMPTED))
        form = {"grant_type": "client_credentials", "client_id": s.client_id}
        form["client_secret"] = s.client_secret.get_secret_value()
        if s.scope:
            form["scope"] = s.scope
        http = self.http
        if not isinstance(http, FormHttp):
            raise PortalError("token", Classified(Verdict.RETRYABLE, message="this HTTP adapter cannot post a form"))
        try:
            status, answer = http.post_form(s.token_endpoint(), form, {"Accept": "application/json"})
        except HttpFailure as exc:  # the token request carries no dossier: nothing is in doubt
            raise PortalError("token", Classified(Verdict.RETRYABLE, message=str(exc))) from None
        value = answer.get("access_token") if isinstance(answer, dict) and status == 200 else None
        if (
            not isinstance(value, str)
            or not 0 < len(value) <= 4096
            or not value.isascii()
            or not value.isprintable()
            or " " in value
        ):
            message = f"token refused (HTTP {status})" if status != 200 else "no usable access_token in the answer"
            raise PortalError("token", Classified(Verdict.RETRYABLE, message=message, http_status=status))
        kind = answer.get("token_type")
        kind = kind if isinstance(kind, str) and kind.isalpha() and kind.lower() != "bearer" else "Bearer"
        expires = answer.get("expires_in")
        lifetime = float(expires) if isinstance(expires, int | float) and not isinstance(expires, bool) else 0.0
        lifetime = lifetime if 0 < lifetime <= 30 * 24 * 3600 else s.token_default_ttl
        self.tokens_fetched += 1
        return f"{kind} {value}", time.monotonic() + lifetime

    def _unit(self, madonvi: str, **extra: str) -> dict[str, str]:
        return {self.settings.unit_param: madonvi, **extra}

    def login(self, budget: LeaseBudget | None = None) -> str:
        """POST the auth endpoint; cache and return the session. A refused login is retryable:
        wrong credentials or ``dstcode`` are the operator's to fix, not the message's fault."""
        with self._lock:
            return self._login(budget)

    def _login(self, budget: LeaseBudget | None = None) -> str:
        credentials = {"username": self.settings.username, "password": self.settings.password.get_secret_value()}
        classified, data = self._post(self.settings.auth_endpoint, credentials, budget)
        session = data.get("session")
        if classified.verdict is Verdict.OK and isinstance(session, str) and session:
            self._session = session
            return session
        message = classified.message if classified.verdict is not Verdict.OK else "no session in the answer"
        raise PortalError("login", Classified(Verdict.RETRYABLE, classified.code, message, classified.http_status))

    def _current_session(self, budget: LeaseBudget | None) -> str:
        with self._lock:
            return self._session or self._login(budget)

    def _call(
        self,
        operation: str,
        endpoint: str,
        build: Callable[[str], dict[str, Any]],
        budget: LeaseBudget | None = None,
    ) -> dict[str, Any]:
        for renewed in (False, True):
            session = self._current_session(budget)
            classified, data = self._post(endpoint, build(session), budget)
            if classified.verdict is Verdict.AUTH and not renewed:
                with self._lock:
                    if self._session == session:
                        self._session = None
                continue
            if classified.verdict is Verdict.OK:
                return data
            if classified.verdict is Verdict.AUTH:  # expired again right after a fresh login
                classified = Classified(Verdict.RETRYABLE, classified.code, classified.message, classified.http_status)
            raise PortalError(operation, classified)
        raise AssertionError("unreachable")  # pragma: no cover

    def sync_dossiers(
        self,
        hoso_list: Sequence[Mapping[str, Any]],
        is_updating: bool,
        budget: LeaseBudget | None = None,
        madonvi: str | None = None,
    ) -> dict[str, Any]:
        """``DongBoHoSoMC``: insert (``is_updating=False``) or update HoSo records, all or nothing, for the
        unit ``madonvi`` (default: ``HUB_PORTAL_MADONVI``)."""
        madonvi = madonvi or self.settings.madonvi
        if not self.settings.enveloped:
            path = self.settings.path("update" if is_updating else "sync")
            flag = "True" if is_updating else "False"
            return self._plain(tr.SYNC_SERVICE, path, hoso_list, self._unit(madonvi, isUpdating=flag), budget)
        return self._call(
            tr.SYNC_SERVICE,
            self.settings.integration_endpoint,
            lambda s: tr.sync_envelope(s, madonvi, hoso_list, is_updating),
            budget,
        )

    def update_progress(
        self, entries: Sequence[Mapping[str, Any]], budget: LeaseBudget | None = None, madonvi: str | None = None
    ) -> dict[str, Any]:
        """``CapNhatTienDoHoSoMC``: append progress entries (of the unit ``madonvi``)."""
        madonvi = madonvi or self.settings.madonvi
        if not self.settings.enveloped:
            path = self.settings.path("progress")
            return self._plain(tr.PROGRESS_SERVICE, path, entries, self._unit(madonvi), budget)
        return self._call(
            tr.PROGRESS_SERVICE,
            self.settings.integration_endpoint,
            lambda s: tr.progress_envelope(s, madonvi, entries),
            budget,
        )

    def lookup_dossier(
        self, mahoso: str, budget: LeaseBudget | None = None, madonvi: str | None = None
    ) -> dict[str, Any] | None:
        """``TraCuuHoSo``: the stored HoSo (with its ``QuaTrinhXuLy`` progress list if the portal
        gives one), or None when the portal does not know the dossier."""
        madonvi = madonvi or self.settings.madonvi
        try:
            if self.settings.enveloped:
                data = self._call(
                    tr.LOOKUP_SERVICE,
                    self.settings.share_endpoint,
                    lambda s: tr.lookup_envelope(s, madonvi, mahoso),
                    budget,
                )
            else:  # [I] the LGSPs' lookup: {"mahoso": ...} to its own URL
                data = self._plain(
                    tr.LOOKUP_SERVICE, self.settings.path("lookup"), {"mahoso": mahoso}, self._unit(madonvi), budget
                )
        except PortalError as exc:
            if exc.verdict is Verdict.NOT_FOUND:
                return None
            raise
        result = data.get("result")
        if isinstance(result, list):
            result = result[0] if result else None
        return result if isinstance(result, dict) and result else None


NO_ROUTE = Route(DEFAULT_PROFILE, "")  # an item settled before its route mattered


@dataclass
class _Work:
    """One item on its way through ``deliver``."""

    item: DeliveryItem
    hoso: dict[str, Any]
    progress: dict[str, Any]
    is_updating: bool
    outcome: Outcome | None = None
    route: Route = NO_ROUTE  # its agency's profile and unit code (units.py)
    synced: bool = False
    # the portal may hold this change though no answer said so: from an earlier attempt (the
    # ledger's ``in_doubt``) until a lookup settles it, or from a progress call of this one
    doubt: bool = False
    key_synced: bool = False  # an earlier change of its dossier was synced in this batch

    @property
    def mahoso(self) -> str:
        return str(self.progress["MaHoSo"])

    @property
    def ref(self) -> str:
        return "|".join(tr.progress_key(self.progress))  # same as DossierStatusChange.natural_key()


def _after_waiting(item: DeliveryItem) -> Outcome:
    detail = "an earlier change of this dossier in the batch was not delivered"
    return Outcome(OutcomeKind.RETRY, detail, in_doubt=item.in_doubt)


def _failed(exc: PortalError, doubt: bool) -> Outcome:
    kind = OutcomeKind.RETRY if exc.retryable else OutcomeKind.DEAD
    detail = f"{exc.operation}: {exc.classified.describe()}"
    return Outcome(kind, detail, response=exc.classified.message or None, in_doubt=doubt)


class NationalPortalConnector:
    """``hub.ports.Connector`` for the national portal.

    One status change = ``DongBoHoSoMC`` (upsert of the HoSo) then ``CapNhatTienDoHoSoMC`` (its
    progress entry). Each item goes out under its agency's unit code and profile (``units.py``: the
    agency directory's ``portal`` section). Items are batched: up to ``batch_size`` HoSo per sync call
    (one call per profile, unit code and ``isUpdating`` value), then one progress call per profile and
    unit code for the synced items. A rejected batch is retried
    item by item so each item gets its own outcome; a retryable failure marks the whole batch RETRY.
    Several changes of one dossier in one ``deliver`` call go in successive rounds, in order.
    Items in doubt are looked up first (``TraCuuHoSo``); the lookups, and the chunks of one
    round (different dossiers), go side by side, up to ``lookup_concurrency`` calls at a time.
    No call starts that the items' ``LeaseBudget`` does not allow.
    """

    name: str = NAME
    message_types: tuple[str, ...] = MESSAGE_TYPES

    def __init__(
        self,
        settings: NationalPortalSettings | None = None,
        client: NationalPortalClient | None = None,
        http: httpx.Client | JsonHttp | None = None,
        agencies: AgencyDirectory | None = None,
    ) -> None:
        self.settings = settings or NationalPortalSettings()
        self.client = client or NationalPortalClient(self.settings, http)
        self.units = AgencyUnits(self.settings, agencies)
        self.policy = self.settings.policy()
        self._pool: ThreadPoolExecutor | None = None
        self._http = http
        self._clients: dict[str, NationalPortalClient] = {DEFAULT_PROFILE: self.client}
        self._clients_lock = threading.Lock()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
        for client in self._clients.values():
            client.close()

    def client_for(self, profile: str) -> NationalPortalClient:
        """The client of a profile (its own session or token), made on first use."""
        with self._clients_lock:
            client = self._clients.get(profile)
            if client is None:
                client = self._clients[profile] = NationalPortalClient(self.settings.for_profile(profile), self._http)
            return client

    def deliver(self, items: Sequence[DeliveryItem]) -> list[Outcome]:
        budget = items[0].budget if items else None  # one budget per batch (the worker's lease)
        works: list[_Work] = []
        rounds: list[list[_Work]] = []
        seen: dict[str, int] = {}
        waiting: set[str] = set()  # dossiers whose earlier change waits (retried): their later ones wait too
        for item in items:
            work = self._prepare(item) if item.key not in waiting else _Work(item, {}, {}, False, _after_waiting(item))
            works.append(work)
            if work.outcome is not None and work.outcome.kind is OutcomeKind.RETRY:
                waiting.add(item.key)
            if work.outcome is None:
                n = seen[item.key] = seen.get(item.key, -1) + 1
                if n == len(rounds):
                    rounds.append([])
                rounds[n].append(work)
        try:
            self._run(rounds, budget)
        except Exception as exc:  # a bug below the calls (a library, the HTTP stack), not a portal answer
            log.exception("portal.unexpected_error", error=type(exc).__name__)
            for w in works:  # what was settled stays; the rest may have reached the portal: retry, in doubt
                if w.outcome is None:
                    w.outcome = Outcome(OutcomeKind.RETRY, f"unexpected {type(exc).__name__}", in_doubt=True)
        return [w.outcome or Outcome(OutcomeKind.RETRY, "not attempted", in_doubt=w.doubt) for w in works]

    def _run(self, rounds: Sequence[Sequence[_Work]], budget: LeaseBudget | None) -> None:
        synced_keys: set[str] = set()
        failed_keys: set[str] = set()
        for batch in rounds:
            active = [w for w in batch if self._ready(w, synced_keys, failed_keys)]
            self._look_up([w for w in active if self._needs_lookup(w)], budget)
            active = [w for w in active if w.outcome is None]
            self._sync(active, budget)
            self._send_progress([w for w in active if w.synced], budget)
            synced_keys.update(w.item.key for w in batch if w.synced)
            failed_keys.update(w.item.key for w in batch if w.outcome and w.outcome.kind is OutcomeKind.RETRY)

    def _prepare(self, item: DeliveryItem) -> _Work:
        translators = _TRANSLATORS.get(item.type)
        if translators is None:
            return _Work(item, {}, {}, False, Outcome(OutcomeKind.DEAD, f"message type {item.type!r} not handled"))
        to_hoso, to_progress = translators
        agency = str(item.payload.get("agency_code") or "")
        try:
            route = self.units.route(agency, str(item.payload.get("dossier_code") or item.key))
        except Exception as exc:  # the directory (its database) is unreachable: nothing was sent
            log.warning("portal.agency_directory_failed", error=type(exc).__name__)
            detail = f"the agency directory could not be read ({type(exc).__name__})"
            return _Work(item, {}, {}, False, Outcome(OutcomeKind.RETRY, detail, in_doubt=item.in_doubt))
        if isinstance(route, Problem):  # the operator's to fix: waits (retried) with the reason
            return _Work(item, {}, {}, False, Outcome(OutcomeKind.RETRY, route.detail, in_doubt=item.in_doubt))
        try:
            limits = self.settings.limits
            hoso, progress = to_hoso(item.payload, limits), to_progress(item.payload, limits)
        except (KeyError, TypeError, ValueError) as exc:  # the payload was validated upstream: a contract bug
            return _Work(
                item, {}, {}, False, Outcome(OutcomeKind.DEAD, f"untranslatable payload ({type(exc).__name__})")
            )
        return _Work(
            item, hoso or {}, progress, is_updating=item.key_known_to_partner, doubt=item.in_doubt, route=route
        )

    def _ready(self, w: _Work, synced_keys: set[str], failed_keys: set[str]) -> bool:
        """Decide isUpdating; an item whose dossier's earlier change failed in this batch waits."""
        if w.item.key in failed_keys:
            w.outcome = Outcome(
                OutcomeKind.RETRY, "an earlier change of this dossier in the batch was not delivered", in_doubt=w.doubt
            )
            return False
        w.key_synced = w.item.key in synced_keys
        w.is_updating = w.is_updating or w.key_synced
        return True

    def _needs_lookup(self, w: _Work) -> bool:
        """Only an item that an earlier attempt may have delivered is looked up first."""
        return w.doubt or (self.settings.lookup_on_retry and w.item.attempt > 1)

    def _side_by_side(self, calls: Sequence[functools.partial[None]]) -> None:
        """Run these calls, up to ``lookup_concurrency`` at a time. Only calls about different
        dossiers go side by side (the lookups, or the chunks of one round), so order holds."""
        if len(calls) <= 1 or self.settings.lookup_concurrency <= 1:
            for call in calls:
                call()
            return
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.settings.lookup_concurrency, thread_name_prefix="portal-call")
        futures = [self._pool.submit(call) for call in calls]
        wait(futures)  # every call ends before a failure is raised: none still changes the items then
        for future in futures:
            future.result()

    def _look_up(self, works: Sequence[_Work], budget: LeaseBudget | None) -> None:
        """``TraCuuHoSo`` for each of these (one call per dossier), side by side."""
        self._side_by_side([functools.partial(self._look_up_one, w, budget) for w in works])

    def _look_up_one(self, w: _Work, budget: LeaseBudget | None) -> None:
        try:
            stored = self.client_for(w.route.profile).lookup_dossier(w.mahoso, budget, w.route.madonvi)
        except PortalError as exc:
            w.outcome = _failed(exc, w.doubt)  # still in doubt: nothing settled it
            return
        w.doubt = False  # the portal said what it holds (and the earlier attempt can send no more)
        w.is_updating = stored is not None or w.key_synced
        entries = stored.get(tr.PROGRESS_LIST_KEY) if stored else None
        if isinstance(entries, list) and tr.progress_key(w.progress) in {
            tr.progress_key(e) for e in entries if isinstance(e, dict)
        }:
            w.outcome = Outcome(OutcomeKind.DELIVERED, "already at the portal (TraCuuHoSo); not re-sent", w.ref)

    def _sync(self, works: Sequence[_Work], budget: LeaseBudget | None) -> None:
        for w in works:
            w.synced = not w.hoso  # a payment of a dossier the hub does not know: progress entry only
        works = [w for w in works if w.hoso]
        size = min(self.settings.batch_size, self.settings.limits.hoso_per_call)
        groups: dict[tuple[Route, bool], list[_Work]] = {}  # one call per unit code and flag (before any switch)
        for w in works:
            groups.setdefault((w.route, w.is_updating), []).append(w)
        chunks = [(flag, g[i : i + size]) for (_, flag), g in sorted(groups.items()) for i in range(0, len(g), size)]
        self._side_by_side([functools.partial(self._sync_chunk, flag, chunk, budget) for flag, chunk in chunks])

    def _sync_chunk(self, flag: bool, chunk: Sequence[_Work], budget: LeaseBudget | None) -> None:
        route = chunk[0].route
        try:
            self.client_for(route.profile).sync_dossiers(
                [w.hoso for w in chunk], is_updating=flag, budget=budget, madonvi=route.madonvi
            )
        except PortalError as exc:
            if exc.retryable:  # an upsert: repeating it is harmless, so no doubt from it
                for w in chunk:
                    w.outcome = _failed(exc, w.doubt)
            else:
                for w in chunk:
                    self._sync_one(w, exc if len(chunk) == 1 else None, budget)
            return
        for w in chunk:
            w.synced = True

    def _sync_one(self, w: _Work, error: PortalError | None, budget: LeaseBudget | None) -> None:
        """One HoSo alone; an insert that already exists becomes an update and vice versa, once."""
        switched = False
        while True:
            if error is None:
                try:
                    self.client_for(w.route.profile).sync_dossiers(
                        [w.hoso], is_updating=w.is_updating, budget=budget, madonvi=w.route.madonvi
                    )
                    w.synced = True
                    return
                except PortalError as exc:
                    error = exc
            wrong_mode = (error.verdict is Verdict.ALREADY and not w.is_updating) or (
                error.verdict is Verdict.NOT_FOUND and w.is_updating
            )
            if switched or not wrong_mode:
                w.outcome = _failed(error, w.doubt)
                return
            w.is_updating, switched, error = not w.is_updating, True, None

    def _send_progress(self, works: Sequence[_Work], budget: LeaseBudget | None) -> None:
        size = min(self.settings.batch_size, self.settings.limits.progress_per_call)
        groups: dict[Route, list[_Work]] = {}  # one call per unit code
        for w in works:
            groups.setdefault(w.route, []).append(w)
        chunks = [g[i : i + size] for _, g in sorted(groups.items()) for i in range(0, len(g), size)]
        self._side_by_side([functools.partial(self._progress_chunk, chunk, budget) for chunk in chunks])

    def _progress_chunk(self, chunk: Sequence[_Work], budget: LeaseBudget | None, split: bool = True) -> None:
        try:
            route = chunk[0].route
            answer = self.client_for(route.profile).update_progress([w.progress for w in chunk], budget, route.madonvi)
        except PortalError as exc:
            if split and not exc.retryable and len(chunk) > 1:
                for w in chunk:
                    self._progress_chunk([w], budget, split=False)
            elif exc.verdict is Verdict.ALREADY:
                for w in chunk:
                    w.outcome = Outcome(OutcomeKind.DELIVERED, "progress entry already at the portal", w.ref)
            else:  # appended entries: a call the portal may have acted on leaves them in doubt
                for w in chunk:
                    w.doubt = w.doubt or exc.classified.maybe_processed
                    w.outcome = _failed(exc, w.doubt)
            return
        message = scrub(answer.get("message")) or None
        for w in chunk:
            detail = f"DongBoHoSoMC ({'update' if w.is_updating else 'insert'}) + CapNhatTienDoHoSoMC"
            sent = {
                "madonvi": w.route.madonvi,
                "DongBoHoSoMC": w.hoso,
                "isUpdating": w.is_updating,
                "CapNhatTienDoHoSoMC": w.progress,
            }
            w.outcome = Outcome(OutcomeKind.DELIVERED, detail, w.ref, message, request=sent, answer=answer)


if TYPE_CHECKING:  # the connector satisfies the hub's port
    _port: Connector = NationalPortalConnector()
