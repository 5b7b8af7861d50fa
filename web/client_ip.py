"""Who is calling: the peer's address, or, when the peer is one of TRUSTED_PROXIES, the address it
forwarded in X-Forwarded-For.

Our own walk rather than werkzeug's ProxyFix: ProxyFix trusts a fixed number of hops whoever sends
them, so a client that reaches the app directly could name any address. Here the list is read from
the right (the hop nearest us) and each hop is believed only while the one that told us is trusted.
"""

from __future__ import annotations

import ipaddress

from flask import request

from worker.runtime import get_settings

IPV6_SUBNET_BITS = 64  # one IPv6 customer gets at least a /64: counting single addresses would count nothing


def client_ip() -> str:
    address = _client_address()
    return str(address) if address is not None else request.remote_addr or "unknown"


def client_key() -> str:
    """What per-client limits count: the IPv4 address, or the /64 an IPv6 address belongs to."""
    address = _client_address()
    if address is None or address.version == 4:
        return client_ip()
    if address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    return str(ipaddress.ip_network(f"{address}/{IPV6_SUBNET_BITS}", strict=False))


def _client_address():
    address = _parse(request.remote_addr)
    trusted = get_settings().trusted_proxies
    if address is None or not trusted:
        return address
    hops = ",".join(request.headers.getlist("X-Forwarded-For")).split(",")
    for hop in reversed(hops):
        if not any(address in network for network in trusted):
            break
        forwarded = _parse(hop)
        if forwarded is None:  # a garbled hop: the last address we could trust is the client
            break
        address = forwarded
    return address


def _parse(text: str | None):
    try:
        return ipaddress.ip_address((text or "").strip())
    except ValueError:
        return None
