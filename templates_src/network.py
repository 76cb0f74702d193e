"""Network stack (guide §4): VPC, public and private subnets across two AZs, internet gateway, and the
egress the guide forgot (its private subnets have no route out, so Fargate cannot pull images).

All traffic is recorded by VPC flow logs into a KMS-encrypted, retained log group.

Outputs: VpcId, PublicSubnetIds, PrivateSubnetIds, TaskSubnetIds, TaskAssignPublicIp, NatGateway<N>Id
('none' where that NAT gateway does not exist, so the monitoring stack alarms only on real ones).
"""

from __future__ import annotations

from awacs import logs as alogs
from awacs.aws import Allow, ArnLike, PolicyDocument, Statement
from troposphere import Equals, GetAtt, GetAZs, If, Join, Not, Ref, Select, Sub, Template
from troposphere import ec2, iam, logs

from .common import (
    RETAINED_NAMED,
    CIDR_PATTERN,
    EGRESS_MODES,
    add_output,
    add_param,
    data_key_param,
    log_retention_param,
    name_prefix_param,
    name_tags,
    permissions_boundary,
    service_trust,
)

AZ_COUNT = 2
PUBLIC_CIDRS = ("10.0.1.0/24", "10.0.2.0/24")
PRIVATE_CIDRS = ("10.0.11.0/24", "10.0.12.0/24")


NO_NAT = "none"


def nat_condition_of(i: int) -> str:
    """NAT 1 exists whenever there is NAT; the others only with one NAT per AZ."""
    return "HasNat" if i == 1 else "NatPerAz"


def egress_mode(t: Template) -> None:
    """The EgressMode parameter and the conditions that say which NAT gateways exist (``nat_condition_of``):
    one definition for every stack that needs to know, so they can never disagree."""
    add_param(
        t,
        "EgressMode",
        "How private subnets reach the internet: a NAT gateway per AZ, one shared NAT gateway, "
        "or none (tasks run in public subnets with a public IP; dev only).",
        AllowedValues=list(EGRESS_MODES),
    )
    t.add_condition("HasNat", Not(Equals(Ref("EgressMode"), "none")))
    t.add_condition("NatPerAz", Equals(Ref("EgressMode"), "nat-per-az"))


def subnet_cidr_params() -> dict[str, tuple[str, str]]:
    """Parameter name -> (default CIDR, tier) for every subnet; the root forwards these."""
    out: dict[str, tuple[str, str]] = {}
    for tier, cidrs in (("Public", PUBLIC_CIDRS), ("Private", PRIVATE_CIDRS)):
        for i, cidr in enumerate(cidrs, start=1):
            out[f"{tier}Subnet{i}Cidr"] = (cidr, tier)
    return out


def build(azs: int = AZ_COUNT) -> Template:
    """VPC with one public and one private subnet per AZ; NAT egress chosen by EgressMode."""
    t = Template(Description="Cylink network: VPC, subnets, internet and NAT egress (guide section 4)")
    name_prefix_param(t)
    add_param(t, "VpcCidr", "CIDR block of the VPC.", AllowedPattern=CIDR_PATTERN)
    for name, (_, tier) in subnet_cidr_params().items():
        add_param(t, name, f"CIDR block of a {tier.lower()} subnet.", AllowedPattern=CIDR_PATTERN)
    egress_mode(t)
    data_key_param(t)
    log_retention_param(t)
    t.add_condition("NoNat", Equals(Ref("EgressMode"), "none"))

    t.add_resource(
        ec2.VPC(
            "Vpc",
            CidrBlock=Ref("VpcCidr"),
            EnableDnsHostnames=True,
            EnableDnsSupport=True,
            Tags=name_tags("vpc"),
        )
    )
    t.add_resource(ec2.InternetGateway("InternetGateway", Tags=name_tags("igw")))
    t.add_resource(
        ec2.VPCGatewayAttachment(
            "InternetGatewayAttachment", VpcId=Ref("Vpc"), InternetGatewayId=Ref("InternetGateway")
        )
    )
    t.add_resource(ec2.RouteTable("PublicRouteTable", VpcId=Ref("Vpc"), Tags=name_tags("public-rt")))
    t.add_resource(
        ec2.Route(
            "PublicDefaultRoute",
            DependsOn="InternetGatewayAttachment",
            RouteTableId=Ref("PublicRouteTable"),
            DestinationCidrBlock="0.0.0.0/0",
            GatewayId=Ref("InternetGateway"),
        )
    )

    route_tables = ["PublicRouteTable"]
    for i in range(1, azs + 1):
        az = Select(i - 1, GetAZs(""))
        for tier in ("Public", "Private"):
            t.add_resource(
                ec2.Subnet(
                    f"{tier}Subnet{i}",
                    VpcId=Ref("Vpc"),
                    CidrBlock=Ref(f"{tier}Subnet{i}Cidr"),
                    AvailabilityZone=az,
                    MapPublicIpOnLaunch=False,  # tasks that need one ask for it explicitly
                    Tags=name_tags(f"{tier.lower()}-{i}"),
                )
            )
        t.add_resource(
            ec2.SubnetRouteTableAssociation(
                f"PublicSubnet{i}RouteTableAssociation",
                SubnetId=Ref(f"PublicSubnet{i}"),
                RouteTableId=Ref("PublicRouteTable"),
            )
        )
        nat_condition = nat_condition_of(i)
        t.add_resource(
            ec2.EIP(
                f"NatEip{i}",
                Condition=nat_condition,
                Domain="vpc",
                DependsOn="InternetGatewayAttachment",
                Tags=name_tags(f"nat-{i}"),
            )
        )
        t.add_resource(
            ec2.NatGateway(
                f"NatGateway{i}",
                Condition=nat_condition,
                AllocationId=GetAtt(f"NatEip{i}", "AllocationId"),
                SubnetId=Ref(f"PublicSubnet{i}"),
                Tags=name_tags(f"nat-{i}"),
            )
        )
        t.add_resource(ec2.RouteTable(f"PrivateRouteTable{i}", VpcId=Ref("Vpc"), Tags=name_tags(f"private-rt-{i}")))
        t.add_resource(
            ec2.Route(
                f"PrivateDefaultRoute{i}",
                Condition="HasNat",
                RouteTableId=Ref(f"PrivateRouteTable{i}"),
                DestinationCidrBlock="0.0.0.0/0",
                NatGatewayId=Ref("NatGateway1")
                if i == 1
                else If("NatPerAz", Ref(f"NatGateway{i}"), Ref("NatGateway1")),
            )
        )
        t.add_resource(
            ec2.SubnetRouteTableAssociation(
                f"PrivateSubnet{i}RouteTableAssociation",
                SubnetId=Ref(f"PrivateSubnet{i}"),
                RouteTableId=Ref(f"PrivateRouteTable{i}"),
            )
        )
        route_tables.append(f"PrivateRouteTable{i}")

    # Image layers come from S3: a gateway endpoint keeps that traffic off the NAT gateways (free).
    t.add_resource(
        ec2.VPCEndpoint(
            "S3GatewayEndpoint",
            VpcId=Ref("Vpc"),
            ServiceName=Sub("com.amazonaws.${AWS::Region}.s3"),
            VpcEndpointType="Gateway",
            RouteTableIds=[Ref(rt) for rt in route_tables],
        )
    )

    _flow_logs(t)

    public = Join(",", [Ref(f"PublicSubnet{i}") for i in range(1, azs + 1)])
    private = Join(",", [Ref(f"PrivateSubnet{i}") for i in range(1, azs + 1)])
    add_output(t, "VpcId", Ref("Vpc"), "ID of the VPC.")
    add_output(t, "PublicSubnetIds", public, "Comma-separated public subnet IDs (load balancer).")
    add_output(t, "PrivateSubnetIds", private, "Comma-separated private subnet IDs (Redis, tasks).")
    add_output(t, "TaskSubnetIds", If("NoNat", public, private), "Subnets the tasks run in (public only without NAT).")
    add_output(
        t, "TaskAssignPublicIp", If("NoNat", "ENABLED", "DISABLED"), "Whether tasks need a public IP to reach ECR."
    )
    for i in range(1, azs + 1):
        # 'none' rather than empty: an output value must not be empty.
        add_output(
            t,
            f"NatGateway{i}Id",
            If(nat_condition_of(i), Ref(f"NatGateway{i}"), NO_NAT),
            f"NAT gateway of AZ {i}, or {NO_NAT}.",
        )
    return t


def _flow_logs(t: Template) -> None:
    """VPC flow logs (all traffic) to CloudWatch Logs, delivered by a role only VPC Flow Logs of this
    account can assume."""
    t.add_resource(
        logs.LogGroup(
            "FlowLogGroup",
            **RETAINED_NAMED,
            LogGroupName=Sub("/vpc/${NamePrefix}-flow-logs"),
            RetentionInDays=Ref("LogRetentionDays"),
            KmsKeyId=Ref("DataKeyArn"),
        )
    )
    trust = service_trust(
        "vpc-flow-logs.amazonaws.com",
        None,
        ArnLike("aws:SourceArn", Sub("arn:${AWS::Partition}:ec2:${AWS::Region}:${AWS::AccountId}:vpc-flow-log/*")),
    )
    write = PolicyDocument(
        Version="2012-10-17",
        Statement=[
            Statement(
                Effect=Allow,
                Action=[alogs.CreateLogStream, alogs.PutLogEvents, alogs.DescribeLogStreams],
                Resource=[GetAtt("FlowLogGroup", "Arn")],
            ),
            # DescribeLogGroups lists groups: IAM authorizes it only on the account's log-group:* resource,
            # so scoping it to the flow-log group granted nothing. It reveals names, not contents.
            Statement(
                Effect=Allow,
                Action=[alogs.DescribeLogGroups],
                Resource=[Sub("arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:*")],
            ),
        ],
    )
    t.add_resource(
        iam.Role(
            "FlowLogRole",
            AssumeRolePolicyDocument=trust,
            Policies=[iam.Policy(PolicyName="write-flow-logs", PolicyDocument=write)],
            PermissionsBoundary=permissions_boundary(),
        )
    )
    t.add_resource(
        ec2.FlowLog(
            "VpcFlowLog",
            ResourceId=Ref("Vpc"),
            ResourceType="VPC",
            TrafficType="ALL",
            LogDestinationType="cloud-watch-logs",
            LogGroupName=Ref("FlowLogGroup"),
            DeliverLogsPermissionArn=GetAtt("FlowLogRole", "Arn"),
            MaxAggregationInterval=60,
            Tags=name_tags("flow-log"),
        )
    )
