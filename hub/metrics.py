"""Prometheus metrics: served at /metrics by the api, and by `lgsp relay` / `lgsp worker` on
HUB_METRICS_PORT when it is set."""

from prometheus_client import Counter, Gauge, Histogram

ACCEPTED = Counter("lgsp_messages_accepted_total", "Messages accepted at ingress", ["type"])
DUPLICATES = Counter("lgsp_messages_duplicate_total", "Changes already accepted before (natural key)", ["type"])
REJECTED = Counter("lgsp_messages_rejected_total", "Items refused at ingress (validation)", ["type"])
RELAYED = Counter("lgsp_outbox_published_total", "Outbox rows published to the transport")
PUBLISH_HANDED_TO_RELAY = Counter(
    "lgsp_publish_handed_to_relay_total",
    "Accepted messages the api could not publish itself (broker down, nack, its queue full): the relay publishes them",
)
OUTCOMES = Counter(
    "lgsp_delivery_outcomes_total",
    "Delivery outcomes by connector, new state and message type",
    ["connector", "state", "type"],
)
ACCEPT_TO_DELIVERED = Histogram(
    "lgsp_accept_to_delivered_seconds",
    "From acceptance (the message id's time) to the partner's confirmation, per connector and type",
    ["connector", "type"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 4 * 3600, 86400),
)
DELIVERY_SECONDS = Histogram(
    "lgsp_partner_call_seconds",
    "Time of one connector delivery batch",
    ["connector"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
CIRCUIT_OPEN = Gauge("lgsp_circuit_open", "1 while the connector's circuit breaker is open", ["connector"])
PAYMENT_SETTLEMENTS = Counter(
    "lgsp_payment_settlements_total",
    "Gateway results applied to payments, by profile, source (callback/query) and answer",
    ["profile", "source", "answer"],
)
CALLBACKS_REFUSED = Counter(
    "lgsp_callbacks_refused_total", "Partner callbacks refused before any change", ["profile", "reason"]
)
POSTAL_POLLS = Counter(
    "lgsp_postal_polls_total", "Tracking feed reads by customer code and outcome", ["customer", "outcome"]
)
POSTAL_EVENTS = Counter(
    "lgsp_postal_events_total",
    "Tracking events by source (poll/push) and verdict (applied, stale...)",
    ["source", "verdict"],
)
CIRCUIT_STATES = ("closed", "half_open", "open")
CIRCUIT_STATE = Gauge(
    "lgsp_circuit_state", "The connector's circuit breaker: 0 closed, 1 half open, 2 open", ["connector"]
)
HELD_SKIPPED = Counter(
    "lgsp_held_deliveries_total",
    "Deliveries a worker left waiting in the ledger because an operator holds the partner",
    ["connector"],
)
