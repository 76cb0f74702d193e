"""A hosted zone this deploy just created, and the name servers to set at the registrar.

With a new zone the DNS-validated certificate waits until ACM can read its validation records, which public DNS
serves only once the registrar delegates the domain to the new zone's name servers; ACM gives up after 72 hours
(https://docs.aws.amazon.com/acm/latest/userguide/dns-validation.html). The zone's ``NameServers`` output comes only
when its stack completes, i.e. after the certificate: too late. So the deploy reads them from Route 53 as soon as
the zone exists (issue 21 finding 4).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mypy_boto3_route53 import Route53Client

ZONE_TYPE = "AWS::Route53::HostedZone"


@dataclass(frozen=True)
class Delegation:
    """What to set at the registrar for a new zone."""

    domain: str
    zone_id: str
    name_servers: tuple[str, ...]


def created_zone(event: Any) -> str | None:
    """The ID of a hosted zone whose creation this stack event reports, else None."""
    if event.get("ResourceType") == ZONE_TYPE and event.get("ResourceStatus") == "CREATE_COMPLETE":
        return str(event.get("PhysicalResourceId") or "") or None
    return None


def delegation(route53: Route53Client, zone_id: str) -> Delegation:
    """The zone's name and name servers (GetHostedZone: DelegationSet.NameServers,
    https://docs.aws.amazon.com/Route53/latest/APIReference/API_GetHostedZone.html)."""
    found = route53.get_hosted_zone(Id=zone_id)
    name = found["HostedZone"]["Name"].rstrip(".")
    return Delegation(name, zone_id.rsplit("/", 1)[-1], tuple(found.get("DelegationSet", {}).get("NameServers", [])))
