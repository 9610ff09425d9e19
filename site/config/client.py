"""The client's address: the one definition the feedback rate limit and django-axes both use.

X-Forwarded-For is honoured only with TRUSTED_PROXY_COUNT set and only from a peer in
TRUSTED_PROXIES (any peer when that list is empty); otherwise a client could name any address.
"""

from __future__ import annotations

import ipaddress

from django.conf import settings
from django.http import HttpRequest
from ipware import get_client_ip


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
