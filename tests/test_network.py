"""Network stack (guide §4) and the egress fix."""

from __future__ import annotations


def test_vpc_and_subnets_use_the_guide_cidrs_in_two_azs(built):
    root = built["root"]["Parameters"]
    assert root["VpcCidr"]["Default"] == "10.0.0.0/16"
    assert [root[f"PublicSubnet{i}Cidr"]["Default"] for i in (1, 2)] == ["10.0.1.0/24", "10.0.2.0/24"]
    assert [root[f"PrivateSubnet{i}Cidr"]["Default"] for i in (1, 2)] == ["10.0.11.0/24", "10.0.12.0/24"]
    subnets = built.resources("network", "AWS::EC2::Subnet")
    assert len(subnets) == 4
    for logical_id, res in subnets.items():
        props = res["Properties"]
        index = int(logical_id[-1]) - 1
        assert props["AvailabilityZone"] == {"Fn::Select": [index, {"Fn::GetAZs": ""}]}
        assert props["MapPublicIpOnLaunch"] is False


def test_public_route_table_routes_to_the_internet_gateway(built):
    route = built.props("network", "PublicDefaultRoute")
    assert route == {
        "DestinationCidrBlock": "0.0.0.0/0",
        "GatewayId": {"Ref": "InternetGateway"},
        "RouteTableId": {"Ref": "PublicRouteTable"},
    }
    assert built.resource("network", "PublicDefaultRoute")["DependsOn"] == "InternetGatewayAttachment"
    assert len(built.resources("network", "AWS::EC2::VPCGatewayAttachment")) == 1


def test_private_subnets_have_a_route_out_through_nat(built):
    nats = built.resources("network", "AWS::EC2::NatGateway")
    assert {k: v["Condition"] for k, v in nats.items()} == {"NatGateway1": "HasNat", "NatGateway2": "NatPerAz"}
    second = built.props("network", "PrivateDefaultRoute2")
    assert second["NatGatewayId"] == {"Fn::If": ["NatPerAz", {"Ref": "NatGateway2"}, {"Ref": "NatGateway1"}]}
    assert built.props("network", "PrivateDefaultRoute1")["NatGatewayId"] == {"Ref": "NatGateway1"}
    assert built["root"]["Parameters"]["EgressMode"]["Default"] == "nat-per-az"
    assert built["root"]["Parameters"]["EgressMode"]["AllowedValues"] == ["nat-per-az", "single-nat", "none"]


def test_s3_gateway_endpoint_serves_every_route_table(built):
    endpoint = built.props("network", "S3GatewayEndpoint")
    assert endpoint["VpcEndpointType"] == "Gateway"
    assert sorted(r["Ref"] for r in endpoint["RouteTableIds"]) == [
        "PrivateRouteTable1",
        "PrivateRouteTable2",
        "PublicRouteTable",
    ]


def test_without_nat_tasks_move_to_public_subnets_with_a_public_ip(built):
    outputs = built["network"]["Outputs"]
    assert outputs["TaskSubnetIds"]["Value"]["Fn::If"][0] == "NoNat"
    assert outputs["TaskSubnetIds"]["Value"]["Fn::If"][1] == outputs["PublicSubnetIds"]["Value"]
    assert outputs["TaskAssignPublicIp"]["Value"] == {"Fn::If": ["NoNat", "ENABLED", "DISABLED"]}
