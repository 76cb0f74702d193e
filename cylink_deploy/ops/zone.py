"""``doctor``'s DNS checks: the hosted zone, its delegation in public DNS, records that would collide, CAA.

Route 53 says which name servers serve a zone; only public DNS says whether the registrar delegates to them,
and ACM validates the certificate through public DNS: a zone that is not delegated keeps the certificate (and
the first deploy) waiting. Public DNS is asked with dnspython's resolver, given by the caller (the system's,
or ``--dns-server``; the tests start one on loopback). Every step takes its client and returns ``Check`` rows.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

import dns.exception
import dns.resolver
from botocore.exceptions import ClientError

from cylink_deploy.aws import error_code
from cylink_deploy.ops.checks import NOT_CHECKED, OK, PROBLEM, Check
from templates_src.dns import SUBDOMAINS

if TYPE_CHECKING:
    from mypy_boto3_route53 import Route53Client

AREA = "hosted zone"
# CAA issuer domains that let ACM issue (ACM User Guide, "CAA records":
# https://docs.aws.amazon.com/acm/latest/userguide/setup-caa.html): any one of them in an "issue" property.
AMAZON_CAA = frozenset({"amazon.com", "amazontrust.com", "awstrust.com", "amazonaws.com"})
# The record types CloudFormation's alias A records clash with: the same name and type already there
# (ChangeResourceRecordSets refuses to CREATE an existing record set:
# https://docs.aws.amazon.com/Route53/latest/APIReference/API_ChangeResourceRecordSets.html), or a CNAME, which
# may not share its name with any other record (RFC 1034 section 3.6.2).
CLASHING_TYPES = ("A", "CNAME")
DNS_TIMEOUT = 5.0  # seconds for one public DNS question (dnspython's default lifetime is 5 s too)


def resolver(server: str | None = None) -> dns.resolver.Resolver:
    """The system's resolver, or only ``server`` (``HOST`` or ``HOST:PORT``, e.g. ``127.0.0.1:5353``)."""
    if server is None:
        res = dns.resolver.Resolver()
    else:
        host, _, port = server.rpartition(":") if server.count(":") == 1 else (server, "", "")
        res = dns.resolver.Resolver(configure=False)
        res.nameservers = [host]
        res.port = int(port) if port else 53
    res.lifetime = DNS_TIMEOUT
    return res


def _bare(name: str) -> str:
    return name.lower().rstrip(".")


def certificate_names(domain: str) -> list[str]:
    """The names on the certificate (the DNS stack's): the apex and each subdomain."""
    return [domain, *(f"{sub}.{domain}" for sub in SUBDOMAINS)]


def public_name_servers(res: dns.resolver.Resolver, domain: str) -> set[str] | str:
    """The NS set public DNS answers for ``domain``, or why there is none (a one-line reason)."""
    try:
        return {_bare(r.to_text()) for r in res.resolve(domain, "NS")}
    except dns.resolver.NXDOMAIN:
        return f"public DNS has no {domain} (NXDOMAIN): the domain is not registered or not delegated"
    except dns.resolver.NoAnswer:
        return f"public DNS answers no NS records for {domain}"
    except dns.exception.DNSException as exc:
        return f"no answer from DNS ({type(exc).__name__})"


def caa_properties(res: dns.resolver.Resolver, name: str) -> tuple[str, list[tuple[str, str]]] | str:
    """The CAA record set that governs ``name`` -- its own, else its closest parent's (RFC 8659 section 3,
    "climbing" the tree) -- as (owner, [(tag, value)]); ("", []) when there is none; a string when DNS did
    not answer."""
    labels = _bare(name).split(".")
    for i in range(len(labels) - 1):  # never the root or a bare TLD
        owner = ".".join(labels[i:])
        try:
            answer = res.resolve(owner, "CAA")
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
            continue
        except dns.exception.DNSException as exc:
            return f"no answer from DNS for CAA of {owner} ({type(exc).__name__})"
        return owner, [(r.tag.decode(), r.value.decode()) for r in answer]
    return "", []


def caa_allows_amazon(properties: Sequence[tuple[str, str]]) -> bool:
    """Pure: may ACM issue for a (non-wildcard) name under these CAA properties? With no "issue" property any
    CA may; otherwise one must name an Amazon issuer (its domain before any ";" parameters)."""
    issuers = [value.split(";")[0].strip().lower() for tag, value in properties if tag.lower() == "issue"]
    return not issuers or any(i in AMAZON_CAA for i in issuers)


def existing_zone(route53: Route53Client, zone_id: str, domain: str) -> tuple[Check, list[str]]:
    """The given zone: it exists, is public and is the domain's; returns its name servers too."""
    try:
        zone = route53.get_hosted_zone(Id=zone_id)
    except ClientError as exc:
        if error_code(exc) != "NoSuchHostedZone":
            raise
        return Check(AREA, zone_id, PROBLEM, "no such hosted zone in this account", "fix HostedZoneId"), []
    name, private = _bare(zone["HostedZone"]["Name"]), zone["HostedZone"].get("Config", {}).get("PrivateZone")
    servers = [_bare(s) for s in zone.get("DelegationSet", {}).get("NameServers", [])]
    if name != _bare(domain) or private:
        found = f"{'private ' if private else ''}zone of {name}"
        return Check(AREA, zone_id, PROBLEM, f"{found}, not the public zone of {domain}", "fix HostedZoneId"), []
    return Check(AREA, zone_id, OK, f"public zone of {domain}, name servers {', '.join(servers)}"), servers


def zone_to_create(route53: Route53Client, domain: str, own_zones: Iterable[str]) -> Check:
    """No HostedZoneId: the deploy creates a zone, so no other public zone of the domain may exist (a second
    zone has other name servers, and the registrar points at one of them)."""
    listed = route53.list_hosted_zones_by_name(DNSName=domain, MaxItems="10")["HostedZones"]
    others = [
        z["Id"].rsplit("/", 1)[-1]
        for z in listed
        if _bare(z["Name"]) == _bare(domain) and not z.get("Config", {}).get("PrivateZone")
    ]
    others = [z for z in others if z not in set(own_zones)]
    if others:
        return Check(
            AREA,
            domain,
            PROBLEM,
            f"a public zone of {domain} exists already ({', '.join(others)}); the deploy would create a second one",
            f"set HostedZoneId={others[0]} in the parameter file (or --parameter)",
        )
    return Check(
        AREA,
        domain,
        OK,
        "the first deploy creates the zone",
        "when deploy prints the new zone's name servers, set them at the registrar: the certificate waits for it",
    )


def delegation(res: dns.resolver.Resolver, domain: str, servers: Sequence[str]) -> Check:
    """Public DNS must delegate the domain to exactly the zone's name servers (ACM validates through it)."""
    public = public_name_servers(res, domain)
    if isinstance(public, str):
        result = NOT_CHECKED if public.startswith("no answer from DNS") else PROBLEM
        return Check("delegation", domain, result, public, f"set the registrar's name servers to {', '.join(servers)}")
    if public == set(servers):
        return Check("delegation", domain, OK, f"public DNS delegates to the zone ({', '.join(sorted(public))})")
    return Check(
        "delegation",
        domain,
        PROBLEM,
        f"public DNS delegates to {', '.join(sorted(public))}, not to the zone's name servers",
        f"set the registrar's name servers to {', '.join(servers)} (the certificate cannot validate until then)",
    )


def collisions(route53: Route53Client, zone_id: str, domain: str, own_records: Iterable[str]) -> list[Check]:
    """Records the records stack would create that exist already and are not the stack's own."""
    mine = {_bare(r) for r in own_records}
    found = []
    for name in certificate_names(domain):
        page = route53.list_resource_record_sets(HostedZoneId=zone_id, StartRecordName=name, MaxItems="10")
        clash = [
            r["Type"]
            for r in page["ResourceRecordSets"]
            if _bare(r["Name"]) == _bare(name) and r["Type"] in CLASHING_TYPES and _bare(name) not in mine
        ]
        if clash:
            found.append(
                Check(
                    "records",
                    name,
                    PROBLEM,
                    f"{'/'.join(clash)} record exists in the zone; the records stack would fail to create its A record",
                    "delete it from the zone (the stack creates the alias to the ALB), or use another domain",
                )
            )
    return found or [Check("records", domain, OK, f"no record in the way of {', '.join(certificate_names(domain))}")]


def caa(res: dns.resolver.Resolver, domain: str) -> Check:
    """ACM must be allowed by CAA for every name on the certificate, else issuance fails (CAA_ERROR)."""
    refused, unanswered = [], []
    for name in certificate_names(domain):
        found = caa_properties(res, name)
        if isinstance(found, str):
            unanswered.append(found)
        elif not caa_allows_amazon(found[1]):
            refused.append(f"{name} (CAA at {found[0]}: {', '.join(v for t, v in found[1] if t == 'issue')})")
    if refused:
        return Check(
            "CAA",
            domain,
            PROBLEM,
            f"CAA does not allow Amazon for {'; '.join(refused)}",
            'add a CAA record 0 issue "amazon.com" beside the existing ones',
        )
    if unanswered:
        return Check("CAA", domain, NOT_CHECKED, unanswered[0])
    return Check("CAA", domain, OK, "CAA allows Amazon to issue (or there is no CAA record)")


def zone_checks(
    route53: Route53Client,
    res: dns.resolver.Resolver | None,
    domain: str,
    zone_id: str,
    own: Iterable[str] = (),
) -> list[Check]:
    """Every DNS check for ``domain``; ``own``: the physical IDs of the stack's own zone and records.
    ``res`` None: public DNS is not asked (the rows say so)."""
    if not domain:
        return [Check(AREA, "-", OK, "no DomainName: the site is served on the load balancer's own name")]
    own = list(own)
    if zone_id:
        check, servers = existing_zone(route53, zone_id, domain)
        checks = [check]
        if check.result == OK:
            checks += collisions(route53, zone_id, domain, own)
    else:
        checks, servers = [zone_to_create(route53, domain, own)], []
    if res is None:
        return [*checks, Check("public DNS", domain, NOT_CHECKED, "local emulator: public DNS not asked")]
    if servers:
        checks.append(delegation(res, domain, servers))
    return [*checks, caa(res, domain)]
