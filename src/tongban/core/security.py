"""Web security controls: the client's address behind proxies, the back office's network gate, and the
response headers Django does not set itself (Content-Security-Policy, Permissions-Policy).

HSTS, X-Content-Type-Options, Referrer-Policy and Cross-Origin-Opener-Policy come from Django's
SecurityMiddleware, X-Frame-Options from XFrameOptionsMiddleware; their values are in settings.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable
from functools import lru_cache
from typing import Any

from django.conf import settings
from django.dispatch import Signal
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import get_resolver

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# No inline script or style, no plugins, no framing, forms post only here, no <base> rewriting.
DEFAULT_CSP = "; ".join([
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "font-src 'self'",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "frame-ancestors 'none'",
    "form-action 'self'",
])
# The camera stays available to this site only (the real-person check takes a selfie).
DEFAULT_PERMISSIONS_POLICY = ("camera=(self), microphone=(), geolocation=(), payment=(), usb=(), "
                              "interest-cohort=()")
# Sent (with `request`) when the network gate turns a request away; tongban.accounts audits it.
network_denied = Signal()

# The paths only staff on configured networks may reach.
DEFAULT_BACKOFFICE_PREFIXES = ("/backoffice", "/admin")


@lru_cache(maxsize=32)
def _parse_networks(cidrs: tuple[str, ...]) -> tuple[IPNetwork, ...]:
    return tuple(ipaddress.ip_network(cidr, strict=False) for cidr in cidrs)


def _address(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    value = value.strip()
    if value.startswith("[") and "]" in value:  # [::1]:8080
        value = value[1:value.index("]")]
    elif value.count(":") == 1:  # 10.0.0.1:8080
        value = value.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def address_in(address: str, cidrs: Iterable[str]) -> bool:
    parsed = _address(address)
    return parsed is not None and any(parsed in network for network in _parse_networks(tuple(cidrs)))


def address_network(address: str, *, ipv4_prefix: int = 32, ipv6_prefix: int = 64) -> str:
    """The network a client address is counted under by rate limits: `203.0.113.0/24` for IPv4 with prefix
    24, `2001:db8:1:2::/64` for IPv6 with prefix 64 (what one subscriber or host is usually given, so that
    walking through the addresses of one block is still one client). Anything that does not parse as an
    address ("-" for no request) is returned as it is."""
    parsed = _address(address)
    if parsed is None:
        return address
    prefix = ipv4_prefix if parsed.version == 4 else ipv6_prefix
    return str(ipaddress.ip_network(f"{parsed}/{prefix}", strict=False))


def client_ip(request: HttpRequest) -> str:
    """The client's address. X-Forwarded-For is believed only when the peer is a configured proxy, and
    then read from the right, skipping our own proxies: the first other address is the client's.
    Anything to its left was written by the client and may be forged."""
    remote = request.META.get("REMOTE_ADDR", "") or ""
    proxies = settings.TONGBAN_SECURITY.trusted_proxies
    if not proxies or not address_in(remote, proxies):
        return remote
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
    for hop in reversed(hops):
        if _address(hop) is None:
            return remote  # garbage in the chain: fall back to the proxy itself
        if not address_in(hop, proxies):
            return str(_address(hop))
    return remote


def is_backoffice_path(path: str) -> bool:
    prefixes = getattr(settings, "TONGBAN_BACKOFFICE_PREFIXES", DEFAULT_BACKOFFICE_PREFIXES)
    return any(path == prefix or path.startswith(prefix + "/") for prefix in prefixes)


def not_found(request: HttpRequest) -> HttpResponse:
    """The site's ordinary 404 page, exactly as for a path that does not exist."""
    callback: Any = get_resolver().resolve_error_handler(404)
    response: HttpResponse = callback(request, exception=Http404())
    return response


class NetworkGateMiddleware:
    """The back office and Django admin exist only for configured networks; elsewhere they are 404."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if is_backoffice_path(request.path) and \
                not address_in(client_ip(request), settings.TONGBAN_SECURITY.backoffice_networks):
            # Recorded by whoever listens (tongban.accounts records a security event): core imports no domain app.
            network_denied.send(sender=NetworkGateMiddleware, request=request)
            return not_found(request)
        return self.get_response(request)


class SecurityHeadersMiddleware:
    """Content-Security-Policy and Permissions-Policy on every response (a view may set its own CSP)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if "Content-Security-Policy" not in response:
            response["Content-Security-Policy"] = getattr(settings, "TONGBAN_CONTENT_SECURITY_POLICY", DEFAULT_CSP)
        if "Permissions-Policy" not in response:
            response["Permissions-Policy"] = getattr(settings, "TONGBAN_PERMISSIONS_POLICY",
                                                     DEFAULT_PERMISSIONS_POLICY)
        response.setdefault("Cross-Origin-Resource-Policy", "same-origin")
        return response
