"""The synchronous path to the national population database: breaker, thread pool, audit.

For each verify or lookup:

0. a query the connector would not send (a field over the database's limits, ``HUB_POPDB_LIMITS``)
   is refused at once (``InvalidForDatabase``, 422 naming the field and the rule; recorded; the
   breaker is not involved: nothing was sent);
1. the circuit breaker admits the call, or refuses it at once (``Unavailable("circuit-open")``,
   recorded, nothing sent to the database);
2. the blocking zeep call runs in a worker thread, at most ``concurrency`` at a time (a limiter of
   its own: a slow database cannot take the threads the rest of the api needs); the connector
   bounds it in time (``HUB_POPDB_TIMEOUT``) and size;
3. the outcome is classified - an answer, ``Unavailable`` (503: timeout, connection, busy, 5xx),
   ``Refused`` (502: the database refused us, or answered something unsafe) - and the breaker told;
4. the audit row is committed, and only then is the caller answered: if the row cannot be
   written, the answer is withheld (``Unavailable("audit-unavailable")``). An answer that carried
   elements the connector does not know (read past, never kept) says so in the row's ``detail``
   (how many, and where: names only) and in ``lgsp_citizen_answer_ignored_elements_total``.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any, TypeVar

import anyio
import structlog
from prometheus_client import Counter, Histogram
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool

from hub.agencies.port import DEFAULT_PROFILE, AgencyDirectory
from hub.citizens import audit
from hub.citizens.port import (
    CitizenNotFound,
    CitizenQuery,
    CitizenRecord,
    Ignored,
    LookupRequest,
    Operation,
    PopulationDb,
    PopulationDbError,
    RetryableError,
    UnsafeResponse,
    VerifyRequest,
    VerifyResult,
)
from hub.envelope import utcnow
from hub.resilience import CallBreaker

T = TypeVar("T")
Q = TypeVar("Q", bound=CitizenQuery)
CONNECTOR = "population_db"
QUERIES = Counter("lgsp_citizen_queries_total", "Population database queries by outcome", ["operation", "outcome"])
IGNORED = Counter(
    "lgsp_citizen_answer_ignored_elements_total",
    "Elements and attributes of population database answers the connector does not know (read past, not kept)",
    ["operation"],
)
QUERY_SECONDS = Histogram(
    "lgsp_citizen_query_seconds",
    "Time of one population database query as the caller saw it",
    ["operation"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)


def _log() -> Any:
    return structlog.get_logger("hub.citizens")  # not cached at import: follows the current configuration


@dataclass(frozen=True)
class Caller:
    client_code: str
    purpose: str  # the caller's stated reason, recorded in the audit
    agency_code: str | None = None  # the officer's agency (bound to the client: the api checked it)


@dataclass(frozen=True)
class Profile:
    """One way to the database (``HUB_POPDB_PROFILES``, or ``default``): its client and its own breaker,
    so an LGSP that is down for one agency opens no breaker of another."""

    name: str
    client: PopulationDb
    breaker: CallBreaker
    service_code: str  # MaDVC recorded when a query names none


class CitizenQueryFailed(Exception):
    """A query that got no answer; ``status``, ``error`` and ``reason`` make the HTTP answer."""

    status = 502
    outcome = "refused"

    def __init__(
        self,
        error: str,
        reason: str,
        *,
        retry_after: int | None = None,
        fields: tuple[str, ...] = (),
        message: str | None = None,
    ):
        super().__init__(f"{error} ({reason})")
        self.error, self.reason, self.retry_after, self.fields = error, reason, retry_after, fields
        self.message = message  # the caller's explanation, when the fixed one of the error is not enough


class Unavailable(CitizenQueryFailed):
    status = 503
    outcome = "unavailable"


class Refused(CitizenQueryFailed):
    pass


class NotConfigured(CitizenQueryFailed):
    """The agency names a population-database profile this hub does not define: an operator's
    misconfiguration, not the caller's fault, so 503; ``message`` names the agency and the profile."""

    status = 503
    outcome = "unconfigured"


class InvalidForDatabase(CitizenQueryFailed):
    """A query the database would refuse, so it was not sent: ``reason`` names the field and the rule."""

    status = 422
    outcome = "invalid"


class UnsafeAnswer(CitizenQueryFailed):
    outcome = "unsafe"


class HubFault(CitizenQueryFailed):
    """Recorded for an unexpected error of the hub's own (the error itself propagates: 500)."""

    status = 500
    outcome = "error"


@dataclass(frozen=True)
class LookupResult:
    record: CitizenRecord | None  # None: no citizen matches number, name and birth date
    request_id: str


class CitizenService:
    def __init__(
        self,
        engine: Engine,
        client: PopulationDb,
        hasher: audit.IdHasher,
        *,
        breaker: CallBreaker,
        service_code: str,
        concurrency: int = 16,
        retry_after: int = 5,
        profiles: Mapping[str, Profile] | None = None,
        agencies: AgencyDirectory | None = None,
    ) -> None:
        self.engine = engine
        self.client = client  # the default profile's
        self.hash_id = hasher
        self.breaker = breaker
        self.service_code = service_code  # MaDVC recorded when a query names none
        self.profiles: dict[str, Profile] = {
            **(profiles or {}),
            DEFAULT_PROFILE: Profile(DEFAULT_PROFILE, client, breaker, service_code),
        }
        self.agencies = agencies  # each agency's population_db section (profile, MaDonVi)
        self.concurrency = concurrency
        self.retry_after = retry_after
        self._limiter: tuple[asyncio.AbstractEventLoop, anyio.CapacityLimiter] | None = None

    def close(self) -> None:
        for profile in self.profiles.values():
            profile.client.close()

    # ------------------------------------------------------------ operations
    async def verify(self, caller: Caller, req: VerifyRequest) -> VerifyResult:
        def judge(result: VerifyResult) -> tuple[str, list[str] | None]:
            if not result.exists:
                return "not_found", None
            return ("matched" if all(result.matches.values()) else "mismatch"), None

        return await self._run("verify", caller, req, lambda client, q: client.verify(q), judge)

    async def lookup(self, caller: Caller, req: LookupRequest, fields: frozenset[str]) -> LookupResult:
        def call(client: PopulationDb, q: LookupRequest) -> LookupResult:
            try:
                return LookupResult(client.lookup(q), q.request_id)
            except CitizenNotFound:
                return LookupResult(None, q.request_id)

        def judge(result: LookupResult) -> tuple[str, list[str] | None]:
            return ("found", sorted(fields)) if result.record else ("not_found", None)

        return await self._run("lookup", caller, req, call, judge)

    async def forbidden(
        self, client_code: str, operation: str, *, agency_code: str | None = None, reason: str | None = None
    ) -> None:
        """Record a call refused for want of a grant (before its body was read), or for naming an agency
        the client is not bound to (``reason`` agency-not-bound)."""
        row = audit.QueryRecord(
            utcnow(), operation, client_code, "forbidden", 403, 0, reason=reason, agency_code=agency_code
        )
        QUERIES.labels(operation, "forbidden").inc()
        with contextlib.suppress(Unavailable):  # logged by _write; the caller is refused anyway, learns nothing
            await run_in_threadpool(self._write, row)

    # ------------------------------------------------------------ the path of one call
    async def _route(self, caller: Caller) -> tuple[Profile | str, str | None]:
        """The profile of the caller's agency (or the name it gives that is not defined) and the MaDonVi
        to send (None: the profile's own). No agency, or one without a population_db section: default."""
        if caller.agency_code is None or self.agencies is None:
            return self.profiles[DEFAULT_PROFILE], None
        agency = await run_in_threadpool(self.agencies.get, caller.agency_code)
        section = agency.population_db if agency is not None else None
        if agency is None or section is None:
            return self.profiles[DEFAULT_PROFILE], None
        return self.profiles.get(section.profile, section.profile), section.madonvi or agency.code

    async def _run(
        self,
        operation: Operation,
        caller: Caller,
        query: Q,
        call: Callable[[PopulationDb, Q], T],
        judge: Callable[[T], tuple[str, list[str] | None]],
    ) -> T:
        started = time.monotonic()
        route, unit = await self._route(caller)
        row = partial(
            audit.QueryRecord,
            utcnow(),
            operation,
            caller.client_code,
            officer_code=query.officer_code,
            purpose=caller.purpose,
            service_code=query.purpose or (route.service_code if isinstance(route, Profile) else self.service_code),
            id_hash=self.hash_id(query.id_number),
            id_hash_key=self.hash_id.version,
            agency_code=caller.agency_code,
        )
        if not isinstance(route, Profile):  # the agency names a profile this hub does not define
            defined = ", ".join(sorted(self.profiles))
            missing = NotConfigured(
                "population_db_not_configured",
                "profile-undefined",
                message=f"agency {caller.agency_code}: its population_db profile {route!r} is not configured in "
                f"this hub (HUB_POPDB_PROFILES; defined: {defined}); nothing was sent. An operator defines it or "
                f"changes the agency (`lgsp agencies set {caller.agency_code} population_db.profile=...`)",
            )
            await run_in_threadpool(self._fail, operation, row, started, missing, f"profile {route}", None)
            raise missing
        if unit is not None:
            query = query.model_copy(update={"unit_code": unit})
        client, breaker = route.client, route.breaker
        refused = client.refusal(operation, query)
        if refused is not None:  # nothing is sent; the breaker is not involved
            invalid = InvalidForDatabase(
                "invalid_for_population_db", f"{refused.fields[0]}: {refused.rule}"[:64], fields=refused.fields
            )
            await run_in_threadpool(self._fail, operation, row, started, invalid, refused.describe(), None)
            raise invalid
        wait = breaker.admit()
        if wait is not None:  # nothing is sent: the database is known to be down
            error = Unavailable("population_db_unavailable", "circuit-open", retry_after=wait)
            await run_in_threadpool(self._fail, operation, row, started, error, None, None)
            raise error
        bound = partial(call, client, query)
        work = partial(self._call, route, operation, row, started, query.request_id, bound, judge)
        return await anyio.to_thread.run_sync(work, limiter=self.limiter())

    def _call(
        self,
        route: Profile,
        operation: str,
        row: Callable[..., audit.QueryRecord],
        started: float,
        request_id: str,
        call: Callable[[], T],
        judge: Callable[[T], tuple[str, list[str] | None]],
    ) -> T:
        """In a worker thread: the blocking call, the breaker, the audit row."""
        try:
            result = call()
        except PopulationDbError as exc:
            error = self._classify(route, exc)
            self._fail(operation, row, started, error, exc.describe(), request_id)
            raise error from None
        except BaseException:
            route.breaker.failed()  # a fault of ours; never leave a probe in flight
            self._fail(operation, row, started, HubFault("internal_error", "hub-error"), None, request_id)
            raise
        route.breaker.succeeded()
        outcome, fields = judge(result)
        ignored = _ignored(result)
        detail = None
        if ignored.count:
            IGNORED.labels(operation).inc(ignored.count)
            detail = f"read past {ignored.count} unknown element(s): {', '.join(ignored.paths)}"
        self._write(row(outcome, 200, _ms(started), fields=fields, request_id=request_id, detail=detail))
        QUERIES.labels(operation, outcome).inc()
        QUERY_SECONDS.labels(operation).observe(time.monotonic() - started)
        return result  # not logged: the audit row is the record

    def _classify(self, route: Profile, exc: PopulationDbError) -> CitizenQueryFailed:
        opened = None
        if exc.breaker_failure:
            opened = route.breaker.failed()
        else:  # a definite answer (not authorised, invalid request): the database is there
            route.breaker.succeeded()
        if opened:
            _log().warning(
                "citizens.breaker_open", connector=CONNECTOR, profile=route.name, seconds=opened, reason=exc.reason
            )
        if isinstance(exc, RetryableError):
            return Unavailable("population_db_unavailable", exc.reason, retry_after=opened or self.retry_after)
        if isinstance(exc, UnsafeResponse):
            return UnsafeAnswer("population_db_bad_answer", exc.reason)
        reason = {"not authorised": "not-authorised", "invalid request": "invalid-request"}.get(exc.kind, exc.reason)
        return Refused("population_db_refused", reason, fields=exc.fields)

    def _fail(
        self,
        operation: str,
        row: Callable[..., audit.QueryRecord],
        started: float,
        error: CitizenQueryFailed,
        detail: str | None,
        request_id: str | None,
    ) -> None:
        ms, outcome = _ms(started), error.outcome
        self._write(row(outcome, error.status, ms, reason=error.reason, detail=detail, request_id=request_id))
        QUERIES.labels(operation, outcome).inc()
        QUERY_SECONDS.labels(operation).observe(ms / 1000)
        _log().warning(
            "citizens.query_failed",
            operation=operation,
            outcome=outcome,
            reason=error.reason,
            detail=detail,
            request_id=request_id,
            duration_ms=ms,
        )

    def _write(self, row: audit.QueryRecord) -> None:
        try:
            audit.record(self.engine, row)
        except SQLAlchemyError as exc:
            _log().error("citizens.audit_write_failed", error=type(exc).__name__, operation=row.operation)
            raise Unavailable("audit_unavailable", "audit-write-failed", retry_after=self.retry_after) from None

    def limiter(self) -> anyio.CapacityLimiter:
        """This service's thread limit, one per event loop (tests run several loops)."""
        loop = asyncio.get_running_loop()
        if self._limiter is None or self._limiter[0] is not loop:
            self._limiter = (loop, anyio.CapacityLimiter(self.concurrency))
        return self._limiter[1]


def _ignored(result: object) -> Ignored:
    """What the answer carried that the connector does not know (a verify result, or a lookup's record)."""
    if isinstance(result, VerifyResult):
        return result.ignored
    record = getattr(result, "record", None)
    return record.ignored if isinstance(record, CitizenRecord) else Ignored()


def _ms(started: float) -> int:
    return round((time.monotonic() - started) * 1000)
