"""The client's address: the one definition the feedback rate limit and django-axes both use.

X-Forwarded-For is honoured only with TRUSTED_PROXY_COUNT set and only from a peer in
TRUSTED_PROXIES (any peer when that list is empty); otherwise a client could name any address.
"""

from __future__ import annotations

import ipaddress

from django.conf import settings
from django.http import HttpRequest
from ipware import get_client_ip

IPV6_CLIENT_PREFIX = 64  # one IPv6 subscriber usually holds a whole /64


def client_address(request: HttpRequest) -> str:
    peer = request.META.get("REMOTE_ADDR", "")
    hops = settings.TRUSTED_PROXY_COUNT
    if hops == 0 or not _is_trusted_proxy(peer):
        return peer
    # The nearest proxy is the peer; each one before it appended its own peer to the header.
    address, _routable = get_client_ip(
        request,
        proxy_order="left-most",
        proxy_count=hops - 1,
        request_header_order=["HTTP_X_FORWARDED_FOR"],
        strict=False,
    )
    return address or peer


def direct_peer(request: HttpRequest) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The address of the machine that sent `request` when no proxy relayed it (no
    X-Forwarded-For or Forwarded header); None for a relayed request or an unparsable peer."""
    if "HTTP_X_FORWARDED_FOR" in request.META or "HTTP_FORWARDED" in request.META:
        return None
    try:
        return ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return None


def client_network(request: HttpRequest) -> str:
    """The client's address as limits count it (django-axes, feedback keys): an IPv6 address
    stands for its whole /64, which one subscriber usually holds."""
    return network_of(client_address(request))


def network_of(address: str) -> str:
    """`address`, or the first address of its /64 for IPv6 (an IPv4-mapped one as IPv4)."""
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)
        network = ipaddress.ip_network(f"{parsed}/{IPV6_CLIENT_PREFIX}", strict=False)
        return str(network.network_address)
    return str(parsed)


def _is_trusted_proxy(peer: str) -> bool:
    if not settings.TRUSTED_PROXIES:
        return True
    try:
        address = ipaddress.ip_address(peer)
    except ValueError:
        return False
    return any(
        address in ipaddress.ip_network(proxy, strict=False) for proxy in settings.TRUSTED_PROXIES
    )
