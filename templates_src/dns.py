"""DNS stack (guide §10, §11): the hosted zone (an existing one when its ID is given, else a new,
retained one) and the ACM certificate for the apex, ``www`` and ``api``, validated by DNS inside the
stack instead of by hand in the console.

Only deployed when a domain is set. Outputs: HostedZoneId, CertificateArn, NameServers (new zone only).
"""

from __future__ import annotations

from troposphere import Equals, GetAtt, If, Join, Output, Ref, Template
from troposphere import certificatemanager as acm
from troposphere import route53

from .common import RETAINED_NAMED, APEX_DOMAIN_PATTERN, DOMAIN_MAX_LENGTH, HOSTED_ZONE_PATTERN, add_output, add_param

SUBDOMAINS = ("www", "api")


def build() -> Template:
    """Hosted zone (unless given) and the DNS-validated certificate."""
    t = Template(Description="Cylink DNS: hosted zone and ACM certificate (guide sections 10, 11)")
    add_param(t, "DomainName", "Site domain (apex).", AllowedPattern=APEX_DOMAIN_PATTERN, MaxLength=DOMAIN_MAX_LENGTH)
    add_param(
        t,
        "HostedZoneId",
        "Existing hosted zone of the domain; empty creates one.",
        AllowedPattern="^$|" + HOSTED_ZONE_PATTERN,
    )
    t.add_condition("CreateZone", Equals(Ref("HostedZoneId"), ""))

    t.add_resource(
        route53.HostedZone(
            "HostedZone",
            Condition="CreateZone",
            # Kept, except when the operation that created it rolls back (e.g. the certificate waited 72 h for a
            # delegation that never came): the retry then creates a zone again, not a second one beside an orphan
            # whose name servers the registrar may already have (issue 21 finding 4).
            # https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-attribute-deletionpolicy.html
            **RETAINED_NAMED,
            Name=Ref("DomainName"),
            HostedZoneConfig=route53.HostedZoneConfiguration(Comment="Cylink (managed by CloudFormation)"),
        )
    )
    zone_id = If("CreateZone", Ref("HostedZone"), Ref("HostedZoneId"))
    names = [Ref("DomainName")] + [Join(".", [sub, Ref("DomainName")]) for sub in SUBDOMAINS]
    t.add_resource(
        acm.Certificate(
            "Certificate",
            DomainName=Ref("DomainName"),
            SubjectAlternativeNames=names[1:],
            ValidationMethod="DNS",
            DomainValidationOptions=[acm.DomainValidationOption(DomainName=n, HostedZoneId=zone_id) for n in names],
        )
    )
    add_output(t, "HostedZoneId", zone_id, "Hosted zone of the domain.")
    add_output(t, "CertificateArn", Ref("Certificate"), "ACM certificate for the apex, www and api.")
    t.add_output(
        Output(
            "NameServers",
            Condition="CreateZone",
            Value=Join(",", GetAtt("HostedZone", "NameServers")),
            Description="Delegate the domain to these name servers at the registrar.",
        )
    )
    return t
