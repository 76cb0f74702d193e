"""Load-balancer stack (guide §8, §11): internet-facing ALB, one IP target group per service, and the
listeners.

The guide's only listener forwards everything to the frontend, so the backend is never reachable. Here,
with a domain, HTTP redirects to HTTPS and the HTTPS listener (TLS 1.3 policy) sends ``api.<domain>`` to
the backend; without a domain (dev before DNS exists) HTTP serves both, the backend by path.

With WafEnabled, a WAF WebACL protects the ALB (see waf.py). The ALB writes access logs to its own
bucket (SSE-S3, as ALB requires; TLS-only; retained) and has deletion protection when
AlbDeletionProtection is true (prod).

Outputs: AlbArn, AlbDnsName, AlbCanonicalHostedZoneId, <Service>TargetGroupArn, SiteUrl, ApiUrl,
SiteOrigins, and AlbFullName / <Service>TargetGroupFullName (the CloudWatch metric dimensions).
"""

from __future__ import annotations

from typing import Any

from awacs import s3 as as3
from awacs.aws import Allow, Bool, Condition, Deny, PolicyDocument, Principal, Statement
from troposphere import Equals, FindInMap, GetAtt, If, Join, Not, Ref, Split, Sub, Template
from troposphere import elasticloadbalancingv2 as elb
from troposphere import s3

from . import waf
from .common import (
    RETAINED,
    BACKEND,
    DOMAIN_MAX_LENGTH,
    DOMAIN_PATTERN,
    FRONTEND,
    SERVICES,
    SUBNET_LIST_PATTERN,
    add_output,
    add_param,
    checkov_skips,
    data_key_param,
    log_retention_param,
    name_prefix_param,
)

TLS_POLICY = "ELBSecurityPolicy-TLS13-1-2-2021-06"
# Paths the backend answers when there is no api.<domain> host to route on.
BACKEND_PATHS = ["/api/*", "/socket.io/*", "/health"]
IDLE_TIMEOUT_SECONDS = 3600  # WebSockets sit idle between messages; 60 s (the default) cuts them
# Chosen for what connected clients see when a task stops (the end of an event, a release, a Spot reclaim): the
# ALB sends a deregistering target no new connection and closes what is still open when the delay ends
# (https://docs.aws.amazon.com/elasticloadbalancing/latest/application/edit-target-group-attributes.html#deregistration-delay);
# ECS sends SIGTERM only after that. A WebSocket never ends by itself, so a longer delay does not save it, it
# only postpones its client's reconnect and keeps the task (and every release) waiting; AWS advises against
# very short delays for streaming connections
# (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/load-balancer-connection-draining.html).
# 30 s lets ordinary requests finish, and with the 30 s stop timeout fits Fargate Spot's 2-minute notice.
DEREGISTRATION_DELAY_SECONDS = 30
STICKY_SECONDS = 86400
ACCESS_LOG_PREFIX = "alb"
# Regions opened before August 2022 deliver ALB logs from an ELB account, newer ones from a service
# principal ("none" here). Deploying to a region not listed fails at FindInMap: add its row.
ELB_LOG_ACCOUNTS = {
    "ap-northeast-1": "582318560864",
    "ap-northeast-2": "600734575887",
    "ap-northeast-3": "383597477331",
    "ap-southeast-1": "114774131450",
    "eu-west-1": "156460612806",
    "us-east-1": "127311923021",
    "us-west-2": "797873946194",
    "ap-southeast-4": "none",
    "ap-southeast-5": "none",
    "ap-southeast-7": "none",
}


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


def _access_log_bucket(t: Template) -> None:
    """Bucket for ALB access logs with exactly the delivery permission ALB needs, TLS-only."""
    t.add_mapping(
        "ElbLogAccount", {region: {"Account": account} for region, account in sorted(ELB_LOG_ACCOUNTS.items())}
    )
    t.add_condition(
        "ElbAccountDelivers", Not(Equals(FindInMap("ElbLogAccount", Ref("AWS::Region"), "Account"), "none"))
    )
    t.add_resource(
        s3.Bucket(
            "AlbLogBucket",
            Metadata=checkov_skips(
                CKV_AWS_18="This bucket holds the ALB's access logs; logging access to the log bucket itself would "
                "need yet another bucket and records only the ALB's own deliveries."
            ),
            **RETAINED,
            BucketEncryption=s3.BucketEncryption(
                ServerSideEncryptionConfiguration=[
                    s3.ServerSideEncryptionRule(
                        ServerSideEncryptionByDefault=s3.ServerSideEncryptionByDefault(SSEAlgorithm="AES256")
                    )
                ]
            ),
            PublicAccessBlockConfiguration=s3.PublicAccessBlockConfiguration(
                BlockPublicAcls=True, BlockPublicPolicy=True, IgnorePublicAcls=True, RestrictPublicBuckets=True
            ),
            OwnershipControls=s3.OwnershipControls(
                Rules=[s3.OwnershipControlsRule(ObjectOwnership="BucketOwnerEnforced")]
            ),
            VersioningConfiguration=s3.VersioningConfiguration(Status="Enabled"),
            LifecycleConfiguration=s3.LifecycleConfiguration(
                Rules=[
                    s3.LifecycleRule(
                        Id="expire-access-logs",
                        Status="Enabled",
                        ExpirationInDays=Ref("LogRetentionDays"),
                        NoncurrentVersionExpiration=s3.NoncurrentVersionExpiration(NoncurrentDays=7),
                    )
                ]
            ),
        )
    )
    objects = Sub("arn:${AWS::Partition}:s3:::${AlbLogBucket}/" + ACCESS_LOG_PREFIX + "/AWSLogs/${AWS::AccountId}/*")
    # Join, not Sub: Control Tower's CT.S3.PR.8 recognises the objects' ARN only in this form
    bucket_arns = [GetAtt("AlbLogBucket", "Arn"), Join("", [GetAtt("AlbLogBucket", "Arn"), "/*"])]
    policy = PolicyDocument(
        Version="2012-10-17",
        Statement=[
            Statement(
                Sid="ElbAccountDeliversAccessLogs",
                Effect=Allow,
                # In regions without an ELB account this names our own account, which owns the bucket anyway.
                Principal=Principal(
                    "AWS",
                    If(
                        "ElbAccountDelivers",
                        Sub(
                            "arn:${AWS::Partition}:iam::${Account}:root",
                            Account=FindInMap("ElbLogAccount", Ref("AWS::Region"), "Account"),
                        ),
                        Sub("arn:${AWS::Partition}:iam::${AWS::AccountId}:root"),
                    ),
                ),
                Action=[as3.PutObject],
                Resource=[objects],
            ),
            Statement(
                Sid="ElbServiceDeliversAccessLogs",
                Effect=Allow,
                Principal=Principal("Service", "logdelivery.elasticloadbalancing.amazonaws.com"),
                Action=[as3.PutObject],
                Resource=[objects],
            ),
            Statement(
                Sid="DenyInsecureTransport",
                Effect=Deny,
                Principal=Principal("*"),
                Action=[as3.Action("*")],
                Resource=bucket_arns,
                Condition=Condition(Bool("aws:SecureTransport", "false")),
            ),
        ],
    )
    t.add_resource(s3.BucketPolicy("AlbLogBucketPolicy", Bucket=Ref("AlbLogBucket"), PolicyDocument=policy))


def build() -> Template:
    """ALB, its access-log bucket, target groups, listeners and the backend routing rules."""
    t = Template(Description="Cylink load balancer: ALB, target groups, HTTP/HTTPS listeners (guide sections 8, 11)")
    name_prefix_param(t)
    add_param(t, "VpcId", "VPC of the target groups.", "AWS::EC2::VPC::Id")
    add_param(t, "PublicSubnetIds", "Comma-separated public subnets of the ALB.", AllowedPattern=SUBNET_LIST_PATTERN)
    add_param(t, "AlbSecurityGroupId", "Security group of the ALB.", "AWS::EC2::SecurityGroup::Id")
    add_param(
        t,
        "DomainName",
        "Site domain (apex); empty for HTTP only.",
        AllowedPattern=DOMAIN_PATTERN,
        MaxLength=DOMAIN_MAX_LENGTH,
    )
    add_param(
        t,
        "CertificateArn",
        "ACM certificate of the domain; empty without a domain.",
        AllowedPattern=r"^$|^arn:aws[a-z-]*:acm:.+$",
    )
    add_param(
        t, "AlbDeletionProtection", "Whether the ALB refuses deletion (true in prod).", AllowedValues=["true", "false"]
    )
    log_retention_param(t)
    data_key_param(t)
    t.add_condition("HasDomain", Not(Equals(Ref("DomainName"), "")))
    t.add_condition("NoDomain", Equals(Ref("DomainName"), ""))
    _access_log_bucket(t)

    t.add_resource(
        elb.LoadBalancer(
            "LoadBalancer",
            DependsOn="AlbLogBucketPolicy",  # ALB checks it may write its logs when the attribute is set
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
                        "access_logs.s3.enabled": "true",
                        "access_logs.s3.bucket": Ref("AlbLogBucket"),
                        "access_logs.s3.prefix": ACCESS_LOG_PREFIX,
                        "deletion_protection.enabled": Ref("AlbDeletionProtection"),
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
            Metadata=checkov_skips(
                CKV_AWS_2="With a domain this listener only redirects to HTTPS (301); without one (dev before DNS "
                "exists) HTTP is all there is.",
                CKV_AWS_103=(
                    "Same listener: plain HTTP carries no TLS policy; it redirects to the TLS 1.3 HTTPS listener."
                ),
            ),
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
            Conditions=[
                elb.Condition(Field="path-pattern", PathPatternConfig=elb.PathPatternConfig(Values=BACKEND_PATHS))
            ],
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
            Conditions=[
                elb.Condition(
                    Field="host-header", HostHeaderConfig=elb.HostHeaderConfig(Values=[Sub("api.${DomainName}")])
                )
            ],
            Actions=[_forward(BACKEND.title, elb.ListenerRuleAction)],
        )
    )

    waf.add(t, "LoadBalancer")

    alb_url = Sub("http://${LoadBalancer.DNSName}")
    add_output(t, "AlbArn", Ref("LoadBalancer"), "ARN of the ALB.")
    add_output(t, "AlbDnsName", GetAtt("LoadBalancer", "DNSName"), "DNS name of the ALB.")
    add_output(
        t,
        "AlbCanonicalHostedZoneId",
        GetAtt("LoadBalancer", "CanonicalHostedZoneID"),
        "Hosted zone of the ALB, for alias records.",
    )
    add_output(
        t,
        "AlbFullName",
        GetAtt("LoadBalancer", "LoadBalancerFullName"),
        "app/<name>/<id> of the ALB: its CloudWatch dimension.",
    )
    for svc in SERVICES:
        add_output(t, f"{svc.title}TargetGroupArn", Ref(f"{svc.title}TargetGroup"), f"Target group of the {svc.name}.")
        add_output(
            t,
            f"{svc.title}TargetGroupFullName",
            GetAtt(f"{svc.title}TargetGroup", "TargetGroupFullName"),
            f"targetgroup/<name>/<id> of the {svc.name} target group: its CloudWatch dimension.",
        )
    add_output(t, "SiteUrl", If("HasDomain", Sub("https://${DomainName}"), alb_url), "URL of the site.")
    add_output(
        t,
        "ApiUrl",
        If("HasDomain", Sub("https://api.${DomainName}"), alb_url),
        "Base URL of the backend API and WebSockets.",
    )
    add_output(
        t,
        "SiteOrigins",
        If("HasDomain", Sub("https://${DomainName},https://www.${DomainName}"), alb_url),
        "Origins the backend accepts (CORS).",
    )
    return t
