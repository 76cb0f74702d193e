"""Load-balancer stack (guide §8, §11): internet-facing ALB, one IP target group per service, and the
listeners.

The guide's only listener forwards everything to the frontend, so the backend is never reachable. Here,
with a domain, HTTP redirects to HTTPS and the HTTPS listener (TLS 1.3 policy) sends ``api.<domain>`` to
the backend; without a domain (dev before DNS exists) HTTP serves both, the backend by path.

Outputs: AlbArn, AlbDnsName, AlbCanonicalHostedZoneId, <Service>TargetGroupArn, SiteUrl, ApiUrl,
SiteOrigins.
"""
from __future__ import annotations

from typing import Any

from troposphere import Equals, GetAtt, If, Not, Ref, Split, Sub, Template
from troposphere import elasticloadbalancingv2 as elb

from .common import BACKEND, DOMAIN_PATTERN, FRONTEND, SERVICES, SUBNET_LIST_PATTERN, add_output, add_param, name_prefix_param

TLS_POLICY = "ELBSecurityPolicy-TLS13-1-2-2021-06"
# Paths the backend answers when there is no api.<domain> host to route on.
BACKEND_PATHS = ["/api/*", "/socket.io/*", "/health"]
IDLE_TIMEOUT_SECONDS = 3600  # WebSockets sit idle between messages; 60 s (the default) cuts them
DEREGISTRATION_DELAY_SECONDS = 30  # well inside Fargate Spot's 2-minute interruption notice
STICKY_SECONDS = 86400


def _target_group(t: Template, svc_title: str, port: int, health_path: str, sticky: bool) -> None:
    attrs = {"deregistration_delay.timeout_seconds": str(DEREGISTRATION_DELAY_SECONDS)}
    if sticky:  # a WebSocket's reconnects must land on the task holding its session state
        attrs.update(
            {
                "stickiness.enabled": "true",
                "stickiness.type": "lb_cookie",
                "stickiness.lb_cookie.duration_seconds": str(STICKY_SECONDS),
            }
        )
    t.add_resource(
        elb.TargetGroup(
            f"{svc_title}TargetGroup",
            VpcId=Ref("VpcId"),
            Protocol="HTTP",
            Port=port,
            TargetType="ip",
            HealthCheckPath=health_path,
            HealthCheckIntervalSeconds=30,
            HealthCheckTimeoutSeconds=5,
            HealthyThresholdCount=2,
            UnhealthyThresholdCount=3,
            TargetGroupAttributes=[elb.TargetGroupAttribute(Key=k, Value=v) for k, v in sorted(attrs.items())],
        )
    )


def _forward(svc_title: str, action: type = elb.Action) -> Any:
    """Forward to a service's target group (listener and rule actions are distinct types)."""
    return action(Type="forward", TargetGroupArn=Ref(f"{svc_title}TargetGroup"))


def build() -> Template:
    """ALB, target groups, listeners and the backend routing rules."""
    t = Template(Description="Cylink load balancer: ALB, target groups, HTTP/HTTPS listeners (guide sections 8, 11)")
    name_prefix_param(t)
    add_param(t, "VpcId", "VPC of the target groups.", "AWS::EC2::VPC::Id")
    add_param(t, "PublicSubnetIds", "Comma-separated public subnets of the ALB.", AllowedPattern=SUBNET_LIST_PATTERN)
    add_param(t, "AlbSecurityGroupId", "Security group of the ALB.", "AWS::EC2::SecurityGroup::Id")
    add_param(t, "DomainName", "Site domain (apex); empty for HTTP only.", AllowedPattern=DOMAIN_PATTERN)
    add_param(t, "CertificateArn", "ACM certificate of the domain; empty without a domain.", AllowedPattern=r"^$|^arn:aws[a-z-]*:acm:.+$")
    t.add_condition("HasDomain", Not(Equals(Ref("DomainName"), "")))
    t.add_condition("NoDomain", Equals(Ref("DomainName"), ""))

    t.add_resource(
        elb.LoadBalancer(
            "LoadBalancer",
            Name=Sub("${NamePrefix}-alb"),
            Scheme="internet-facing",
            Type="application",
            IpAddressType="ipv4",
            Subnets=Split(",", Ref("PublicSubnetIds")),
            SecurityGroups=[Ref("AlbSecurityGroupId")],
            LoadBalancerAttributes=[
                elb.LoadBalancerAttributes(Key=k, Value=v)
                for k, v in sorted(
                    {
                        "idle_timeout.timeout_seconds": str(IDLE_TIMEOUT_SECONDS),
                        "routing.http.drop_invalid_header_fields.enabled": "true",
                        "routing.http.desync_mitigation_mode": "defensive",
                    }.items()
                )
            ],
        )
    )
    for svc in SERVICES:
        _target_group(t, svc.title, svc.port, svc.health_path, sticky=svc is BACKEND)

    redirect = elb.Action(
        Type="redirect",
        RedirectConfig=elb.RedirectConfig(Protocol="HTTPS", Port="443", StatusCode="HTTP_301"),
    )
    t.add_resource(
        elb.Listener(
            "HttpListener",
            LoadBalancerArn=Ref("LoadBalancer"),
            Protocol="HTTP",
            Port=80,
            DefaultActions=[If("HasDomain", redirect, _forward(FRONTEND.title))],
        )
    )
    t.add_resource(
        elb.ListenerRule(
            "HttpBackendRule",
            Condition="NoDomain",
            ListenerArn=Ref("HttpListener"),
            Priority=10,
            Conditions=[elb.Condition(Field="path-pattern", PathPatternConfig=elb.PathPatternConfig(Values=BACKEND_PATHS))],
            Actions=[_forward(BACKEND.title, elb.ListenerRuleAction)],
        )
    )
    t.add_resource(
        elb.Listener(
            "HttpsListener",
            Condition="HasDomain",
            LoadBalancerArn=Ref("LoadBalancer"),
            Protocol="HTTPS",
            Port=443,
            SslPolicy=TLS_POLICY,
            Certificates=[elb.Certificate(CertificateArn=Ref("CertificateArn"))],
            DefaultActions=[_forward(FRONTEND.title)],
        )
    )
    t.add_resource(
        elb.ListenerRule(
            "HttpsBackendRule",
            Condition="HasDomain",
            ListenerArn=Ref("HttpsListener"),
            Priority=10,
            Conditions=[elb.Condition(Field="host-header", HostHeaderConfig=elb.HostHeaderConfig(Values=[Sub("api.${DomainName}")]))],
            Actions=[_forward(BACKEND.title, elb.ListenerRuleAction)],
        )
    )

    alb_url = Sub("http://${LoadBalancer.DNSName}")
    add_output(t, "AlbArn", Ref("LoadBalancer"), "ARN of the ALB.")
    add_output(t, "AlbDnsName", GetAtt("LoadBalancer", "DNSName"), "DNS name of the ALB.")
    add_output(t, "AlbCanonicalHostedZoneId", GetAtt("LoadBalancer", "CanonicalHostedZoneID"), "Hosted zone of the ALB, for alias records.")
    for svc in SERVICES:
        add_output(t, f"{svc.title}TargetGroupArn", Ref(f"{svc.title}TargetGroup"), f"Target group of the {svc.name}.")
    add_output(t, "SiteUrl", If("HasDomain", Sub("https://${DomainName}"), alb_url), "URL of the site.")
    add_output(t, "ApiUrl", If("HasDomain", Sub("https://api.${DomainName}"), alb_url), "Base URL of the backend API and WebSockets.")
    add_output(
        t,
        "SiteOrigins",
        If("HasDomain", Sub("https://${DomainName},https://www.${DomainName}"), alb_url),
        "Origins the backend accepts (CORS).",
    )
    return t
