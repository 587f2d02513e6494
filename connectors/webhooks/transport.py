"""An httpx transport that calls only addresses the SSRF guard allows (``hub/ssrf.py``).

Each request's host is resolved once, every address it resolves to is checked, and the
connection goes to the first of them, by address: no second resolution can send it elsewhere
(no time-of-check/time-of-use gap, no DNS rebinding). The request keeps its ``Host`` header and
TLS is opened with the host name (SNI) and its certificate checked against that name. Redirects
are never followed (the client does not follow them; see ``client.py`` for what 3xx means).
Connections are pooled per host name, so a TLS session made for one name never carries
another's requests.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

import httpx

from hub.ssrf import AddressPolicy, AddressRefused, Resolver, check_url, system_resolver

__all__ = ["AddressRefused", "GuardedTransport"]


class GuardedTransport(httpx.BaseTransport):
    def __init__(self, policy: AddressPolicy, resolve: Resolver = system_resolver, max_hosts: int = 256) -> None:
        self.policy, self.resolve, self.max_hosts = policy, resolve, max_hosts
        self._pools: OrderedDict[tuple[str, str, int], httpx.HTTPTransport] = OrderedDict()
        self._lock = threading.Lock()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        target = check_url(str(request.url), self.policy, self.resolve)  # AddressRefused: nothing is sent
        request.url = request.url.copy_with(host=str(target.addresses[0]))
        request.extensions = {**request.extensions, "sni_hostname": target.host}
        return self._pool(target.scheme, target.host, target.port).handle_request(request)

    def _pool(self, scheme: str, host: str, port: int) -> httpx.HTTPTransport:
        key = (scheme, host, port)
        with self._lock:
            pool = self._pools.get(key)
            if pool is None:
                pool = self._pools[key] = httpx.HTTPTransport(retries=0)
                while len(self._pools) > self.max_hosts:
                    self._pools.popitem(last=False)[1].close()
            self._pools.move_to_end(key)
            return pool

    def close(self) -> None:
        with self._lock:
            pools, self._pools = list(self._pools.values()), OrderedDict()
        for pool in pools:
            pool.close()
