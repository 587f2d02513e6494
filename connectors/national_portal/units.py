"""Which unit code (``madonvi``) and which connector profile each agency's dossiers go out under.

The agency directory (``hub.agencies``: ``lgsp agencies``, ``/v1/admin/agencies``) holds each agency's
``portal`` section, ``{madonvi, madonvi_by_province, profile}`` (a merged province's dossiers under an
old prefix go under that province's unit code); every message the connector delivers names its agency
(``agency_code`` of the canonical payload). An agency read is kept ``unit_cache_seconds`` (one
directory read per agency per period, not one per message); an operator's change takes effect within
that time. An agency without a portal section goes out under ``HUB_PORTAL_MADONVI`` and the default
profile while ``unit_fallback`` holds; otherwise, as for a profile the environment does not define,
the answer is a ``Problem`` naming the agency (the connector retries the message with that reason:
the operator's to fix).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from hub.agencies.port import DEFAULT_PROFILE, AgencyDirectory, PortalUnit
from hub.codes import agency_prefix_of, unit_of

from .config import NationalPortalSettings


@dataclass(frozen=True, order=True)
class Route:
    """Where one message goes: the connector profile and the unit code of its calls."""

    profile: str
    madonvi: str


@dataclass(frozen=True)
class Problem:
    """Why a message has no route (``detail`` names the agency and what the operator sets)."""

    detail: str


class AgencyUnits:
    """``route(agency_code)``: the agency's ``Route``, or a ``Problem``. Thread-safe. A directory
    that fails raises (the connector retries the message)."""

    def __init__(
        self,
        settings: NationalPortalSettings,
        directory: AgencyDirectory | None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings, self.directory, self.clock = settings, directory, clock
        self._cache: dict[str, tuple[float, PortalUnit | None]] = {}
        self._lock = threading.Lock()
        self.reads = 0  # directory reads (tests, metrics)

    def unit(self, agency_code: str) -> PortalUnit | None:
        """The agency's portal section (None: unknown agency, or none configured), cached."""
        if self.directory is None:
            return None
        now = self.clock()
        with self._lock:
            cached = self._cache.get(agency_code)
        if cached is not None and now < cached[0]:
            return cached[1]
        agency = self.directory.get(agency_code)
        unit = agency.portal if agency is not None else None
        with self._lock:
            self.reads += 1
            self._cache[agency_code] = (now + self.settings.unit_cache_seconds, unit)
        return unit

    def route(self, agency_code: str, dossier_code: str = "") -> Route | Problem:
        """The route of a message of ``agency_code`` about ``dossier_code`` (a merged province's old
        prefix may have its own unit code: ``madonvi_by_province``)."""
        unit = self.unit(agency_code) if agency_code else None
        if unit is None:
            if self.settings.unit_fallback:
                return Route(DEFAULT_PROFILE, self.settings.madonvi)
            return Problem(
                f"agency {agency_code or '(none named)'} has no portal unit (madonvi) in the agency directory: "
                f"an operator sets it (`lgsp agencies set {agency_code or 'CODE'} portal.madonvi=...`)"
            )
        if unit.profile != DEFAULT_PROFILE and unit.profile not in self.settings.profiles:
            return Problem(
                f"agency {agency_code}: its portal profile {unit.profile!r} is not configured (HUB_PORTAL_PROFILES "
                f"defines {', '.join(sorted(self.settings.profiles)) or 'none'})"
            )
        province = _province(dossier_code)
        return Route(unit.profile, unit.unit_for(province) if province else unit.madonvi)


def _province(dossier_code: str) -> str:
    """The province of a dossier code's unit prefix (``H22`` of ``000.00.01.H22-250225-0001``), or ""."""
    try:
        return unit_of(agency_prefix_of(dossier_code))
    except ValueError:
        return ""
