"""Which addresses a media fetch may connect to: pure functions of an IP address and the allow-list.

A reward service runs inside a cloud project: a URL in a request must not make it read the instance
metadata server (169.254.169.254 on Google Cloud and AWS, 100.100.100.200 on Alibaba Cloud), a service on
the private network, or the service itself. Only globally routable addresses are fetched (`is_global`,
which excludes loopback, private, link-local, shared 100.64/10, reserved and documentation ranges), an
IPv4-mapped IPv6 address is judged as the IPv4 address it maps, and the allow-list (host names or CIDR
networks, REWARDKIT_MEDIA_ALLOW_HOSTS) is the only way around it. OWASP's SSRF prevention cheat sheet
gives the same rule: resolve, check every address, connect only to a checked one.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

# Metadata servers named apart, so the refusal says what the address is (all are also not global).
METADATA = frozenset(ipaddress.ip_address(a) for a in ("169.254.169.254", "fd00:ec2::254", "100.100.100.200"))


@dataclass(frozen=True)
class AllowList:
    """Hosts (by name, case-insensitive) and networks exempt from the address policy."""

    hosts: frozenset[str] = frozenset()
    networks: tuple[Network, ...] = ()

    @classmethod
    def parse(cls, entries: str | tuple[str, ...]) -> AllowList:
        """From 'localhost, 127.0.0.1/32, 10.0.0.0/8': a CIDR or an address is a network, anything else a host."""
        items = [e.strip() for e in (entries.split(",") if isinstance(entries, str) else entries) if e.strip()]
        hosts, networks = set(), []
        for item in items:
            try:
                networks.append(ipaddress.ip_network(item, strict=False))
            except ValueError:
                hosts.add(item.lower().rstrip("."))
        return cls(frozenset(hosts), tuple(networks))

    def allows_host(self, host: str) -> bool:
        return host.lower().rstrip(".") in self.hosts


def refusal(address: str, allow: AllowList) -> str | None:
    """Why a fetch may not connect to `address`; None when it may."""
    try:
        ip: Address = ipaddress.ip_address(address.split("%", 1)[0])  # a scoped IPv6 address names its interface
    except ValueError:
        return f"{address!r} is not an IP address"
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if any(ip in network for network in allow.networks):
        return None
    if ip in METADATA:
        return f"{ip} is a cloud metadata server"
    if not ip.is_global:
        what = ("loopback" if ip.is_loopback else "link-local" if ip.is_link_local else
                "private" if ip.is_private else "not globally routable")
        return f"{ip} is a {what} address"
    if ip.is_multicast:
        return f"{ip} is a multicast address"
    return None
