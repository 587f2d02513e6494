"""The tracking poller: reads each VNPost customer's feed from its durable cursor, every
``interval`` seconds, and applies what it finds (``Postal.poll``). Runs beside the relay (the
pipeline's ``postal-poller`` role: ``lgsp relay``, ``lgsp dev``, an embedded ``lgsp api``). Several
pollers at once are safe: an event is applied once per (customer code, feed id), and a cursor
only moves forward."""

from __future__ import annotations

import threading
import time

import structlog

from hub import metrics
from hub.partners import PartnerError

from .service import Postal

log = structlog.get_logger("hub.postal.poller")


def poll_once(postal: Postal) -> int:
    """Read every customer's feed once; returns the events applied. A customer whose feed fails
    is tried again at the next run, from the same cursor."""
    applied = 0
    for customer in postal.customers():
        try:
            verdicts = postal.poll(customer)
        except PartnerError as exc:
            log.warning("postal.poll_failed", customer=customer, error=str(exc)[:200])
            metrics.POSTAL_POLLS.labels(customer, "failed").inc()
            continue
        metrics.POSTAL_POLLS.labels(customer, "ok").inc()
        for verdict, n in verdicts.items():
            metrics.POSTAL_EVENTS.labels("poll", verdict).inc(n)
        applied += verdicts.get("applied", 0)
    return applied


def poll_forever(postal: Postal, interval: float, stop: threading.Event) -> None:
    while not stop.is_set():
        started = time.monotonic()
        try:
            poll_once(postal)
        except Exception:  # the database, a bug: logged, tried again at the next run
            log.exception("postal.poll_crashed")
        stop.wait(max(0.0, interval - (time.monotonic() - started)))
