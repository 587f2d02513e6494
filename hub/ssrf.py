"""Which addresses the hub may call on a client's say-so (webhook subscriptions): the SSRF guard.

Pure decisions over addresses and URLs; resolution is a function handed in (``Resolver``), so the
same rules run at subscription time (``check_url``) and at delivery time, on the very addresses
the connection will use (``connectors/webhooks/transport.py`` resolves once, checks, and connects
to that address).

Refused, unless the address is in the allow-list (a province's own LAN receivers):
loopback, link-local, unspecified, multicast, reserved, private (RFC 1918, unique local, shared
address space...), and every other range that is not globally routable (documentation,
benchmarking, 6to4/Teredo/NAT64 and IPv4-mapped forms of any of these). Loopback is allowed
only when the policy says so (``lgsp dev``). Only http and https; no credentials in the URL.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str, int], list[IPAddress]]
NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
MAX_URL_LENGTH = 2000


class AddressRefused(Exception):
    """The URL or the address it resolves to may not be called: ``reason`` is a rule name."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason, self.message = reason, message


@dataclass(frozen=True)
class AddressPolicy:
    allow: tuple[IPNetwork, ...] = ()
    allow_loopback: bool = False

    @classmethod
    def of(cls, networks: Iterable[str], allow_loopback: bool = False) -> AddressPolicy:
        return cls(tuple(ipaddress.ip_network(n.strip(), strict=False) for n in networks if n.strip()), allow_loopback)


def embedded_ipv4(ip: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address stands for (mapped, 6to4, Teredo client, NAT64), if any."""
    if not isinstance(ip, ipaddress.IPv6Address):
        return None
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    if ip in NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def refusal(ip: IPAddress, policy: AddressPolicy) -> str | None:
    """Why the hub may not connect to ``ip`` (a rule name), or None if it may."""
    if any(ip.version == net.version and ip in net for net in policy.allow):
        return None
    inner = embedded_ipv4(ip)
    if inner is not None:
        why = refusal(inner, policy)
        if why is not None:  # an IPv6 spelling of a refused IPv4 address
            return why
    return _own_refusal(ip, policy)


def _own_refusal(ip: IPAddress, policy: AddressPolicy) -> str | None:
    if ip.is_loopback:
        return None if policy.allow_loopback else "loopback"
    for rule, hit in (
        ("unspecified", ip.is_unspecified),
        ("link_local", ip.is_link_local),
        ("multicast", ip.is_multicast),
        ("reserved", ip.is_reserved),
        ("private", ip.is_private),
    ):
        if hit:
            return rule
    return None if ip.is_global else "not_global"


def system_resolver(host: str, port: int) -> list[IPAddress]:
    """Every address ``host`` resolves to (once; the caller connects to one of these)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos))


@dataclass(frozen=True)
class Target:
    """A URL checked for connection: its host name (for the Host header and TLS SNI) and the
    addresses it resolved to, every one allowed."""

    scheme: str
    host: str
    port: int
    addresses: Sequence[IPAddress] = field(default_factory=tuple)


def check_url(url: str, policy: AddressPolicy, resolve: Resolver = system_resolver) -> Target:
    """The URL's target, resolved and every address allowed; ``AddressRefused`` otherwise."""
    if len(url) > MAX_URL_LENGTH:
        raise AddressRefused("too_long", f"at most {MAX_URL_LENGTH} characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise AddressRefused("url_syntax", "not a valid URL") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise AddressRefused("scheme", "only http and https URLs are called")
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise AddressRefused("credentials", "a URL may not carry credentials (user:password@)")
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise AddressRefused("host", "the URL has no host")
    port = port or (443 if scheme == "https" else 80)
    try:
        literal: IPAddress | None = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        literal = None
    if literal is not None:
        addresses = [literal]
    else:
        try:
            addresses = resolve(host, port)
        except (OSError, UnicodeError, ValueError):
            raise AddressRefused("unresolvable", "the host name does not resolve") from None
        if not addresses:
            raise AddressRefused("unresolvable", "the host name does not resolve")
    for ip in addresses:
        why = refusal(ip, policy)
        if why is not None:
            raise AddressRefused(why, f"the host resolves to a {why.replace('_', '-')} address, which is not called")
    return Target(scheme, host, port, tuple(addresses))
