"""National public service portal (Cổng Dịch vụ công quốc gia, DVCQG) — dossier sync connector.

Capability card
---------------
- **Protocol**: REST/JSON over HTTP(S), one endpoint per direction; the operation is the body field
  ``service``. Integration endpoint (``/integration``): ``DongBoHoSoMC`` (sync one-stop dossier: insert
  or update ``HoSo`` records, ``isUpdating`` "False"/"True"), ``CapNhatTienDoHoSoMC`` (append progress
  entries). Share endpoint (``/share``): ``TraCuuHoSo`` (look a dossier up by ``mahoso``).
- **Variants** (``HUB_PORTAL_VARIANT``, ``config.py``): ``adapter`` (the above, the default), and the
  LGSP-fronted shapes: ``lgsp_hagiang`` (a bare JSON array to one URL per operation, ``MaDinhDanhDV`` and
  ``isUpdating`` in the query string, no session) and ``lgsp_thanhhoa`` (bare arrays to separate insert,
  update and progress URLs, no unit code, the progress reply read as text). Only the Hà Giang sync path
  ``/api/SynsTTHCC/DongBoHoSoMC`` is documented [C]; the other paths, and the LGSPs' lookup
  (``{"mahoso"}`` to its own URL) are [I] and configurable.
- **Auth**: adapter: POST ``/auth`` JSON ``{username, password}`` with header ``dstcode`` (routing code) ->
  ``{"error_code": 0, "session": ...}``; the session is cached and sent in the JSON body of every call,
  with ``madonvi`` (the connecting unit's electronic code) and the ``dstcode`` header. When a call answers
  "session expired" the client logs in again once and repeats the call once. LGSP variants
  (``HUB_PORTAL_AUTH_SCHEME``): ``none`` [C THH], ``bearer``, ``header_token``, ``lgsp_access_token``
  (the base64 credentials header on every call), ``oauth2`` (client credentials at ``token_url``; the token
  cached, renewed before it expires, dropped on a 401 and fetched again once). With static credentials a
  401 is retryable and the operator's to fix. Not supported: exchanging the ``lgspaccesstoken`` header for
  a token first (it is sent as is).
- **What it sends**: every HoSo field the public integrations always send (``translate.ALWAYS_SENT``,
  ``HinhThuc`` and ``KenhThucHien`` included), from a canonical message that requires them; nothing is
  defaulted (``KenhThucHien``, ``LoaiDoiTuong``, ``HinhThuc`` come from the client, or from its one
  configured default at ingress, ``HUB_DOSSIER_DEFAULTS``). Text is NFC (the hub's JSON entry point).
- **Limits** (``HUB_PORTAL_LIMITS__*``, ``limits.py``, THH's values as defaults): progress entries per
  call (10), HoSo per call (50 [I]), ``NguoiXuLy`` (50: longer names are cut as THH cuts them),
  ``TrichYeuHoSo`` (1000, the canonical cap).
- **Per agency** (``units.py``, ``config.py``): each message goes out under its agency's unit code
  (``madonvi`` / ``MaDinhDanhDV``) and connector profile (``HUB_PORTAL_PROFILES``: variant, URLs,
  credentials), both from the agency directory (``lgsp agencies``: ``portal.madonvi``, ``portal.profile``),
  read once per agency per ``unit_cache_seconds``; one call per unit code. An agency without them: the
  ``HUB_PORTAL_MADONVI`` fallback while ``HUB_PORTAL_UNIT_FALLBACK`` holds, else refused at intake (422)
  and, for a message already accepted, retried with a reason naming the agency.
- **Message**: ``dossier.status.changed`` -> ``DongBoHoSoMC`` then ``CapNhatTienDoHoSoMC``; up to
  ``batch_size`` HoSo per call (and ``limits.hoso_per_call``), progress entries ``limits.progress_per_call``
  per call; a rejected batch falls back to one call per item.
- **Idempotency key**: the progress entry's natural key (MaHoSo, TrangThai, ThoiDiemXuLy), equal to
  ``DossierStatusChange.natural_key()``; it is the ``partner_ref`` of a delivered outcome. ``DongBoHoSoMC``
  is an upsert by MaHoSo; progress entries are appended, so before re-sending an item that may already
  have landed (``in_doubt``: an earlier attempt got no answer or a server error, or was abandoned;
  or any attempt > 1 while ``lookup_on_retry``) the connector calls ``TraCuuHoSo`` and reports
  DELIVERED when the entry is there. Its outcomes say whether the portal may hold a change it did
  not confirm (``Outcome.in_doubt``). Lookups, and the calls of one round (different dossiers), run
  ``lookup_concurrency`` at a time; no call starts that the item's ``LeaseBudget`` does not allow.
- **Answers**: ``error_code`` 0/"0"/"00" = success (lenient); a reply that is a JSON string (THH's progress
  reply, read as text) is success when it says "thành công"; classification in ``errors.py``. A reply that
  is plain text, not JSON, is not read (no answer: retryable, in doubt).
- **Inferred [I] and configurable** (``HUB_PORTAL_*``, see ``config.py``): the session-expired code
  ("-2", also matched by message), the not-found code ("4"), which other codes are retryable (none),
  the ``QuaTrinhXuLy`` key of the progress list in a ``TraCuuHoSo`` result, endpoint paths, and the
  derived values described in ``translate.py``. Already-exists ("3"/"-3", "đã tồn tại") is observed [C].
- **Mock** (``mock.py``, ``python -m connectors.national_portal.mock [--lenient]``): auth with session TTL,
  the three services and the configured LGSP variant's URLs, **strict** by default: every rule of
  ``mock_rules.RULES`` (required fields, dossier and agency codes with the date, codes, limits, NFC, the
  variant's credentials and shape, already exists, unknown dossier; all-or-nothing calls), each with the
  portal's answer; what it cannot know is ``mock_rules.CANNOT_KNOW``; both at ``GET /_mock/card``. Faults:
  random 500 / 502, latency, hangs longer than the client timeout, an outage window, expiring all
  sessions. Admin views under ``/_mock/``.
"""

from __future__ import annotations

from hub.agencies.port import AgencyDirectory

from .client import MESSAGE_TYPES, NAME, NationalPortalClient, NationalPortalConnector
from .config import NationalPortalSettings

KIND = "delivery"  # a hub.ports.Connector: the ledger's queue ``national_portal``

__all__ = [
    "KIND",
    "MESSAGE_TYPES",
    "NAME",
    "NationalPortalClient",
    "NationalPortalConnector",
    "NationalPortalSettings",
    "build_connector",
]


def build_connector(
    settings: NationalPortalSettings | None = None, agencies: AgencyDirectory | None = None
) -> NationalPortalConnector:
    """The connector for the composition root; opens no connection until the first delivery. ``agencies``:
    the directory its messages' unit codes and profiles are read from (``units.py``)."""
    return NationalPortalConnector(settings or NationalPortalSettings(), agencies=agencies)
