"""Records stack (guide §10): alias A records for the apex, ``www`` and ``api`` pointing at the ALB.

Kept apart from the DNS stack because the ALB needs the certificate and the records need the ALB:
zone+certificate -> load balancer -> records. Only deployed when a domain is set. No outputs.
"""

from __future__ import annotations

from troposphere import Ref, Sub, Template
from troposphere import route53

from .common import APEX_DOMAIN_PATTERN, DOMAIN_MAX_LENGTH, HOSTED_ZONE_PATTERN, HOSTNAME_PATTERN, add_param
from .dns import SUBDOMAINS


def build() -> Template:
    """One alias record per name."""
    t = Template(Description="Cylink DNS records: apex, www and api alias the ALB (guide section 10)")
    add_param(t, "DomainName", "Site domain (apex).", AllowedPattern=APEX_DOMAIN_PATTERN, MaxLength=DOMAIN_MAX_LENGTH)
    add_param(t, "HostedZoneId", "Hosted zone of the domain.", "AWS::Route53::HostedZone::Id")
    add_param(t, "AlbDnsName", "DNS name of the ALB.", AllowedPattern=HOSTNAME_PATTERN)
    add_param(t, "AlbCanonicalHostedZoneId", "Hosted zone of the ALB.", AllowedPattern=HOSTED_ZONE_PATTERN)
    for prefix in ("",) + SUBDOMAINS:
        title = f"{prefix.capitalize() or 'Apex'}Record"
        t.add_resource(
            route53.RecordSetType(
                title,
                HostedZoneId=Ref("HostedZoneId"),
                Name=Sub(f"{prefix}.${{DomainName}}" if prefix else "${DomainName}"),
                Type="A",
                AliasTarget=route53.AliasTarget(
                    HostedZoneId=Ref("AlbCanonicalHostedZoneId"), DNSName=Ref("AlbDnsName"), EvaluateTargetHealth=True
                ),
            )
        )
    return t
