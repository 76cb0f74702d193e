"""Security-group stack (guide §5, §7, §8): the ALB is open on 80/443, tasks accept only the ALB on
their container ports, and Redis accepts only the tasks on 6379. Egress is explicit everywhere: the tasks reach
HTTPS and Redis only. Every rule carries a description.

Outputs: AlbSecurityGroupId, TaskSecurityGroupId, RedisSecurityGroupId.
"""

from __future__ import annotations

from troposphere import GetAtt, Ref, Template
from troposphere import ec2

from .common import SERVICES, add_output, add_param, checkov_skips, name_prefix_param, name_tags

REDIS_PORT = 6379
PUBLIC_PORTS = {80: "HTTP (redirects to HTTPS when a domain is set)", 443: "HTTPS"}
PORT_80_SKIP = checkov_skips(
    CKV_AWS_260="Port 80 is open to the world only so the ALB can answer HTTP with a 301 to HTTPS "
    "(and, before a domain exists, to serve dev over HTTP); it never reaches a task unencrypted in prod."
)


# The documented way to declare "no egress" on a VPC security group: an inline loopback rule. Any inline
# egress makes CloudFormation remove the default allow-all rule; standalone AWS::EC2::SecurityGroupEgress
# resources do not, so a group that relied on them alone kept allow-all. Groups with this rule get their
# real egress (if any) only from the standalone rules below, never inline (mixing the two on one rule
# would let an update of one revoke the other).
NO_EGRESS = ec2.SecurityGroupRule(
    IpProtocol="-1", CidrIp="127.0.0.1/32", Description="No egress beyond the group's explicit rules"
)
# Every group declares its egress: the ALB reaches only the task ports, Redis nothing, and the tasks only what they
# need (issue 21 finding 14): HTTPS (ECR, CloudWatch Logs, Secrets Manager through the NAT or public IP, image layers
# through the S3 gateway endpoint) and Redis. DNS needs no rule: security groups do not filter traffic to the Amazon
# DNS server (https://docs.aws.amazon.com/vpc/latest/userguide/security-group-rules.html, "Security groups don't
# filter traffic destined to and from the following: Amazon Domain Name Services (DNS)").
EXPLICIT_EGRESS = ("AlbSecurityGroup", "RedisSecurityGroup", "TaskSecurityGroup")
HTTPS_PORT = 443


def _group(t: Template, title: str, suffix: str, description: str) -> None:
    explicit = {"SecurityGroupEgress": [NO_EGRESS]} if title in EXPLICIT_EGRESS else {}
    t.add_resource(
        ec2.SecurityGroup(
            title,
            GroupDescription=description,
            VpcId=Ref("VpcId"),
            Tags=name_tags(suffix),
            **explicit,
        )
    )


def _rule(t: Template, cls: type, title: str, group: str, port: int, description: str, **peer: object) -> None:
    rule = cls(
        title,
        GroupId=GetAtt(group, "GroupId"),
        IpProtocol="tcp",
        FromPort=port,
        ToPort=port,
        Description=description,
        **peer,
    )
    if title == "AlbIngress80":
        rule.Metadata = PORT_80_SKIP
    t.add_resource(rule)


def build() -> Template:
    """Three security groups and their rules, each rule a separate resource to avoid group cycles."""
    t = Template(Description="Cylink security groups: ALB, ECS tasks, Redis (guide sections 5, 7, 8)")
    name_prefix_param(t)
    add_param(t, "VpcId", "VPC the groups belong to.", "AWS::EC2::VPC::Id")

    _group(t, "AlbSecurityGroup", "alb-sg", "Cylink ALB: HTTP and HTTPS from the internet")
    _group(t, "TaskSecurityGroup", "ecs-sg", "Cylink ECS tasks: container ports from the ALB only")
    _group(t, "RedisSecurityGroup", "redis-sg", "Cylink Redis: 6379 from the ECS tasks only")

    for port, what in PUBLIC_PORTS.items():
        _rule(
            t,
            ec2.SecurityGroupIngress,
            f"AlbIngress{port}",
            "AlbSecurityGroup",
            port,
            f"{what} from anywhere",
            CidrIp="0.0.0.0/0",
        )
    for svc in SERVICES:
        src = {"SourceSecurityGroupId": GetAtt("AlbSecurityGroup", "GroupId")}
        dst = {"DestinationSecurityGroupId": GetAtt("TaskSecurityGroup", "GroupId")}
        _rule(
            t,
            ec2.SecurityGroupIngress,
            f"TaskIngress{svc.title}",
            "TaskSecurityGroup",
            svc.port,
            f"{svc.name} port from the ALB",
            **src,
        )
        _rule(
            t,
            ec2.SecurityGroupEgress,
            f"AlbEgress{svc.title}",
            "AlbSecurityGroup",
            svc.port,
            f"ALB to {svc.name} tasks",
            **dst,
        )
    _rule(
        t,
        ec2.SecurityGroupEgress,
        "TaskEgressHttps",
        "TaskSecurityGroup",
        HTTPS_PORT,
        "Tasks to AWS APIs (ECR, logs, Secrets Manager) over HTTPS",
        CidrIp="0.0.0.0/0",
    )
    _rule(
        t,
        ec2.SecurityGroupEgress,
        "TaskEgressRedis",
        "TaskSecurityGroup",
        REDIS_PORT,
        "Tasks to Redis",
        DestinationSecurityGroupId=GetAtt("RedisSecurityGroup", "GroupId"),
    )
    _rule(
        t,
        ec2.SecurityGroupIngress,
        "RedisIngressFromTasks",
        "RedisSecurityGroup",
        REDIS_PORT,
        "Redis from the ECS tasks",
        SourceSecurityGroupId=GetAtt("TaskSecurityGroup", "GroupId"),
    )
    for title, what in (("Alb", "ALB"), ("Task", "ECS tasks"), ("Redis", "Redis")):
        add_output(
            t, f"{title}SecurityGroupId", GetAtt(f"{title}SecurityGroup", "GroupId"), f"Security group of the {what}."
        )
    return t
