"""Which reverse proxies are believed: ``trusted_proxies`` (addresses or networks), for the client's address
(``X-Forwarded-For``, the rate limits) and for whether the browser came over https (``X-Forwarded-Proto``,
the session cookie's ``Secure``). Anyone can send those headers; only a trusted proxy's are read."""

import ipaddress

from starlette.requests import Request

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def trusted_networks(setting: str) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(part.strip(), strict=False) for part in setting.split(",") if part.strip())


def client_address(request: Request, trusted: tuple[Network, ...]) -> str:
    """The address the request came from. ``X-Forwarded-For`` is believed only hop by hop from the right, and
    only while the hop that added the next entry is a trusted proxy: anyone can send the header, so from an
    untrusted peer it would let a client choose its own address and escape every per-address limit."""
    peer = request.client.host if request.client else ""
    forwarded = ",".join(request.headers.getlist("x-forwarded-for"))  # one hop per proxy, in one header or several
    hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
    address = peer
    while hops and is_trusted(address, trusted):
        address = hops.pop()
    return address


def is_trusted(address: str, trusted: tuple[Network, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in trusted)
