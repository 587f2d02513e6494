"""The SSRF guard's decisions (hub/ssrf.py), on addresses and URLs only: nothing is sent."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable

import pytest

from hub.ssrf import AddressPolicy, AddressRefused, check_url, refusal

DEFAULT = AddressPolicy()

REFUSED = [
    ("169.254.169.254", "link_local"),  # cloud metadata
    ("0.0.0.0", "unspecified"),
    ("::", "unspecified"),
    ("fe80::1", "link_local"),
    ("127.0.0.1", "loopback"),
    ("127.8.9.10", "loopback"),
    ("::1", "loopback"),
    ("10.0.0.1", "private"),
    ("172.16.5.4", "private"),
    ("192.168.1.1", "private"),
    ("fd12:3456::1", "private"),  # unique local
    ("100.64.0.1", "not_global"),  # shared address space (carrier NAT)
    ("192.0.2.10", "private"),  # documentation
    ("198.18.0.1", "private"),  # benchmarking
    ("224.0.0.251", "multicast"),
    ("ff02::1", "multicast"),
    ("240.0.0.1", "reserved"),
    ("255.255.255.255", "reserved"),
    ("::ffff:127.0.0.1", "loopback"),  # IPv4-mapped
    ("::ffff:169.254.169.254", "link_local"),
    ("2002:7f00:1::", "loopback"),  # 6to4 of 127.0.0.1
    ("2002:a9fe:a9fe::", "link_local"),  # 6to4 of 169.254.169.254
    ("64:ff9b::a9fe:a9fe", "link_local"),  # NAT64 of the metadata address
    ("2001:0:4136:e378:8000:63bf:80ff:fffe", "loopback"),  # Teredo, client 127.0.0.1
]


@pytest.mark.parametrize(("address", "rule"), REFUSED)
def test_inward_addresses_are_refused_by_rule(address: str, rule: str) -> None:
    assert refusal(ipaddress.ip_address(address), DEFAULT) == rule


@pytest.mark.parametrize("address", ["8.8.8.8", "203.162.4.191", "2606:4700:4700::1111", "2402:800:20ff::1"])
def test_globally_routable_addresses_are_allowed(address: str) -> None:
    assert refusal(ipaddress.ip_address(address), DEFAULT) is None


def test_the_allow_list_opens_a_province_network_and_only_it() -> None:
    lan = AddressPolicy.of(["10.56.0.0/16", "fd00:56::/32"])
    assert refusal(ipaddress.ip_address("10.56.20.7"), lan) is None
    assert refusal(ipaddress.ip_address("fd00:56::7"), lan) is None
    assert refusal(ipaddress.ip_address("10.57.0.1"), lan) == "private"
    assert refusal(ipaddress.ip_address("169.254.169.254"), lan) == "link_local"
    assert refusal(ipaddress.ip_address("127.0.0.1"), lan) == "loopback"


def test_loopback_only_when_the_policy_says_so() -> None:
    dev = AddressPolicy(allow_loopback=True)
    assert refusal(ipaddress.ip_address("127.0.0.1"), dev) is None
    assert refusal(ipaddress.ip_address("::1"), dev) is None
    assert refusal(ipaddress.ip_address("10.0.0.1"), dev) == "private"


def _names(mapping: dict[str, list[str]]) -> Callable[[str, int], list[ipaddress.IPv4Address | ipaddress.IPv6Address]]:
    def resolve(host: str, _port: int) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
        if host not in mapping:
            raise OSError("no such name")
        return [ipaddress.ip_address(a) for a in mapping[host]]

    return resolve


@pytest.mark.parametrize(
    ("url", "rule"),
    [
        ("http://169.254.169.254/latest/meta-data/iam", "link_local"),
        ("http://0.0.0.0/", "unspecified"),
        ("http://[::]/", "unspecified"),
        ("http://[fe80::1]/", "link_local"),
        ("http://[::ffff:a9fe:a9fe]/", "link_local"),
        ("ftp://receiver.test/", "scheme"),
        ("file:///etc/passwd", "scheme"),
        ("gopher://receiver.test/", "scheme"),
        ("http://user:secret@receiver.test/hook", "credentials"),
        ("http://:secret@receiver.test/hook", "credentials"),
        ("http://receiver.test@10.0.0.1/", "credentials"),
        ("http://unknown.test/", "unresolvable"),
        ("http://inward.test/", "private"),
        ("http://mixed.test/", "loopback"),  # one address of several is inward: refused
        ("http:///nohost", "host"),
        ("http://[::1/", "url_syntax"),
        ("http://receiver.test/" + "a" * 2000, "too_long"),
    ],
)
def test_urls_refused_with_their_rule(url: str, rule: str) -> None:
    resolve = _names(
        {"receiver.test": ["8.8.8.8"], "inward.test": ["10.1.2.3"], "mixed.test": ["8.8.8.8", "127.0.0.1"]}
    )
    with pytest.raises(AddressRefused) as refused:
        check_url(url, DEFAULT, resolve)
    assert refused.value.reason == rule
    assert "secret" not in refused.value.message and "10.1.2.3" not in refused.value.message


def test_an_allowed_url_is_resolved_once_to_the_addresses_to_connect_to() -> None:
    calls: list[str] = []

    def resolve(host: str, port: int) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
        calls.append(f"{host}:{port}")
        return [ipaddress.ip_address("8.8.4.4")]

    target = check_url("https://Receiver.Test./hooks?x=1", DEFAULT, resolve)
    assert (target.scheme, target.host, target.port) == ("https", "receiver.test", 443)
    assert [str(a) for a in target.addresses] == ["8.8.4.4"] and calls == ["receiver.test:443"]
