"""The monitoring stack, checked as properties of the built JSON: every alarm is described, notifies the
topic, chooses how missing data counts, and takes its threshold from a parameter; the services roll back
on alarms that exist; the dashboard is valid JSON naming only resources the templates create."""

from __future__ import annotations

import json
import re

import pytest

from templates_src.common import SERVICES
from templates_src.monitoring import MAX_REDIS_NODES

ALARM = "AWS::CloudWatch::Alarm"


def alarms(built):
    return built.resources("monitoring", ALARM)


def test_there_are_alarms_for_every_layer_the_issue_names(built):
    metrics = set()
    for res in alarms(built).values():
        p = res["Properties"]
        if "MetricName" in p:
            metrics.add((p["Namespace"], p["MetricName"], p.get("ExtendedStatistic")))
        for q in p.get("Metrics", []):
            if "MetricStat" in q:
                metrics.add((q["MetricStat"]["Metric"]["Namespace"], q["MetricStat"]["Metric"]["MetricName"], None))
    expected = {
        ("AWS/ApplicationELB", "HTTPCode_Target_5XX_Count", None),
        ("AWS/ApplicationELB", "HTTPCode_ELB_5XX_Count", None),
        ("AWS/ApplicationELB", "UnHealthyHostCount", None),
        ("AWS/ApplicationELB", "TargetResponseTime", "p95"),
        ("AWS/ApplicationELB", "RejectedConnectionCount", None),
        ("AWS/ECS", "CPUUtilization", None),
        ("AWS/ECS", "MemoryUtilization", None),
        ("ECS/ContainerInsights", "RunningTaskCount", None),
        ("AWS/ElastiCache", "EngineCPUUtilization", None),
        ("AWS/ElastiCache", "DatabaseMemoryUsagePercentage", None),
        ("AWS/ElastiCache", "Evictions", None),
        ("AWS/ElastiCache", "CurrConnections", None),
        ("AWS/ElastiCache", "ReplicationLag", None),
        ("AWS/NATGateway", "ErrorPortAllocation", None),
        ("AWS/NATGateway", "PacketsDropCount", None),
        ("AWS/WAFV2", "BlockedRequests", None),
    }
    assert expected <= metrics, expected - metrics


@pytest.mark.parametrize("prop", ["AlarmDescription", "TreatMissingData"])
def test_every_alarm_is_described_and_chooses_how_missing_data_counts(built, prop):
    for logical_id, res in alarms(built).items():
        value = res["Properties"].get(prop)
        assert value, (logical_id, prop)
        if prop == "AlarmDescription":
            assert "Look first" in value or "look first" in value.lower(), logical_id  # what to look at first
        else:
            assert value in ("breaching", "notBreaching", "ignore", "missing"), logical_id


def test_every_alarm_notifies_the_topic_on_alarm_and_on_recovery(built):
    for logical_id, res in alarms(built).items():
        assert res["Properties"]["AlarmActions"] == [{"Ref": "AlarmTopic"}], logical_id
        assert res["Properties"]["OKActions"] == [{"Ref": "AlarmTopic"}], logical_id


def test_every_threshold_and_variable_evaluation_window_comes_from_a_parameter(built):
    params = built["monitoring"]["Parameters"]
    for logical_id, res in alarms(built).items():
        threshold = res["Properties"]["Threshold"]
        assert isinstance(threshold, dict) and threshold.get("Ref") in params, logical_id
        assert params[threshold["Ref"]]["Type"] == "Number", logical_id
        periods = res["Properties"]["EvaluationPeriods"]
        assert isinstance(periods, int) or periods.get("Ref") in params, logical_id


def test_every_threshold_parameter_has_a_value_in_every_params_file_or_a_root_default(built):
    import yaml

    from .conftest import REPO

    root_params = built["root"]["Parameters"]
    for env in ("dev", "staging", "prod"):
        doc = yaml.safe_load((REPO / "params" / f"{env}.yaml").read_text())
        assert doc["parameters"]["EnvironmentName"] == env
    for res in alarms(built).values():
        name = res["Properties"]["Threshold"]["Ref"]
        assert "Default" in root_params[name], name


def test_only_cloudwatch_of_this_account_may_publish_to_the_encrypted_topic(built):
    topic = built.props("monitoring", "AlarmTopic")
    assert topic["KmsMasterKeyId"] == {"Ref": "DataKeyArn"}
    (statement,) = built.props("monitoring", "AlarmTopicPolicy")["PolicyDocument"]["Statement"]
    assert statement["Effect"] == "Allow" and statement["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    assert statement["Action"] == ["sns:Publish"]
    assert statement["Condition"]["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
    assert "alarm:*" in statement["Condition"]["ArnLike"]["aws:SourceArn"]["Fn::Sub"]
    subscription = built.resource("monitoring", "AlarmEmailSubscription")
    assert subscription["Condition"] == "HasAlarmEmail" and subscription["Properties"]["Endpoint"] == {
        "Ref": "AlarmEmail"
    }
    pattern = re.compile(built["monitoring"]["Parameters"]["AlarmEmail"]["AllowedPattern"])
    assert pattern.match("") and pattern.match("on-call+cylink@example.co.jp")
    assert not pattern.match("not an address") and not pattern.match("a@b")


def test_conditional_alarms_exist_only_with_what_they_watch(built):
    by_condition: dict[str | None, set[str]] = {}
    for logical_id, res in alarms(built).items():
        by_condition.setdefault(res.get("Condition"), set()).add(logical_id)
    assert by_condition["HasWaf"] == {"WafBlockedRequestsAlarm"}
    assert by_condition["HasNat"] == {"NatGateway1PortAllocationAlarm", "NatGateway1PacketsDroppedAlarm"}
    assert by_condition["NatPerAz"] == {"NatGateway2PortAllocationAlarm", "NatGateway2PacketsDroppedAlarm"}
    assert {a for a in by_condition["HasServices"]} == {
        f"{s.title}{k}" for s in SERVICES for k in ("CpuHighAlarm", "MemoryHighAlarm", "TasksBelowMinimumAlarm")
    }
    # The root derives ServicesDeployed from ImageTag, so a new tag does not touch the monitoring stack.
    assert built.props("root", "MonitoringStack")["Parameters"]["ServicesDeployed"] == {
        "Fn::If": ["HasImageTag", "true", "false"]
    }
    assert "ImageTag" not in built["monitoring"]["Parameters"]


def test_the_services_roll_back_on_their_own_existing_5xx_and_unhealthy_host_alarms(built):
    root_params = built.props("root", "ServicesStack")["Parameters"]
    monitoring_outputs = built["monitoring"]["Outputs"]
    for svc in SERVICES:
        config = built.props("services", f"{svc.title}Service")["DeploymentConfiguration"]
        assert config["DeploymentCircuitBreaker"] == {"Enable": True, "Rollback": True}  # the circuit breaker stays
        assert config["Alarms"]["Enable"] is True and config["Alarms"]["Rollback"] is True
        assert config["Alarms"]["AlarmNames"] == {"Fn::Split": [",", {"Ref": f"{svc.title}DeploymentAlarmNames"}]}
        fed = root_params[f"{svc.title}DeploymentAlarmNames"]
        assert fed == {"Fn::GetAtt": ["MonitoringStack", f"Outputs.{svc.title}DeploymentAlarmNames"]}
        refs = [r["Ref"] for r in monitoring_outputs[f"{svc.title}DeploymentAlarmNames"]["Value"]["Fn::Join"][1]]
        assert refs == [f"{svc.title}Target5xxRateAlarm", f"{svc.title}UnhealthyHostsAlarm"]
        for ref in refs:
            alarm = built.resource("monitoring", ref)
            assert alarm["Type"] == ALARM and "Condition" not in alarm  # exists whenever the service does
            dims = json.dumps(alarm["Properties"])
            assert f"{svc.title}TargetGroupFullName" in dims  # the service's own target group, not the other's


def test_the_monitoring_stack_comes_before_the_services_and_after_what_it_watches():
    from templates_src.root import CHILDREN

    order = [c.logical_id for c in CHILDREN]
    assert order.index("MonitoringStack") < order.index("ServicesStack")
    for producer in ("NetworkStack", "CacheStack", "ClusterStack", "LoadBalancerStack"):
        assert order.index(producer) < order.index("MonitoringStack")


def _substituted_body(built) -> tuple[dict, dict]:
    dash = built.props("monitoring", "Dashboard")
    assert dash["DashboardName"] == {"Fn::Sub": "${NamePrefix}-${EnvironmentName}-${AWS::Region}"}
    template = dash["DashboardBody"]["Fn::Sub"]
    assert isinstance(template, str)
    return json.loads(template), built["monitoring"]


def test_the_dashboard_is_valid_json_and_names_only_resources_the_templates_create(built):
    body, monitoring = _substituted_body(built)
    params, resources = monitoring["Parameters"], monitoring["Resources"]
    placeholders = set(re.findall(r"\$\{([^}]+)\}", json.dumps(body)))
    for name in placeholders:
        base = name.split(".")[0]
        assert name.startswith("AWS::") or base in params or (base in resources and name.endswith(".Arn")), name
    # Every parameter the dashboard names is fed by the sibling output of the resource it measures.
    root = built.props("root", "MonitoringStack")["Parameters"]
    producers = {
        "AlbFullName": "LoadBalancerStack",
        "RedisReplicationGroupId": "CacheStack",
        "ClusterName": "ClusterStack",
        **{f"{s.title}TargetGroupFullName": "LoadBalancerStack" for s in SERVICES},
    }
    for name, stack in producers.items():
        assert name in placeholders, name
        assert root[name] == {"Fn::GetAtt": [stack, f"Outputs.{name}"]}, name
    services = {built.props("services", f"{s.title}Service")["ServiceName"]["Fn::Sub"] for s in SERVICES}
    metric_rows = [m for w in body["widgets"] if w["type"] == "metric" for m in w["properties"]["metrics"]]
    named_services = {row[row.index("ServiceName") + 1] for row in metric_rows if "ServiceName" in row}
    assert named_services == services
    nodes = {row[row.index("CacheClusterId") + 1] for row in metric_rows if "CacheClusterId" in row}
    assert nodes == {"${RedisReplicationGroupId}-" + f"{i:03d}" for i in range(1, MAX_REDIS_NODES + 1)}
    assert int(built["cache"]["Parameters"]["RedisNodeCount"]["MaxValue"]) == MAX_REDIS_NODES
    alarm_arns = {
        a.removesuffix(".Arn")
        for w in body["widgets"]
        if w["type"] == "alarm"
        for a in re.findall(r"\$\{([^}]+)\}", json.dumps(w))
    }
    assert alarm_arns and all(resources[a]["Type"] == ALARM and "Condition" not in resources[a] for a in alarm_arns)


def test_the_dashboard_shows_what_the_issue_asks_for(built):
    body, _ = _substituted_body(built)
    metric_names = {row[1] for w in body["widgets"] if w["type"] == "metric" for row in w["properties"]["metrics"]}
    assert {
        "RequestCount",
        "TargetResponseTime",
        "HTTPCode_Target_5XX_Count",
        "HTTPCode_ELB_5XX_Count",
        "HealthyHostCount",
        "RunningTaskCount",
        "CPUUtilization",
        "MemoryUtilization",
        "EngineCPUUtilization",
        "DatabaseMemoryUsagePercentage",
        "CurrConnections",
        "Evictions",
        "ActiveConnectionCount",
        "NewConnectionCount",
    } <= metric_names


def test_the_root_outputs_the_dashboard_url(built):
    assert built["root"]["Outputs"]["DashboardUrl"]["Value"] == {
        "Fn::GetAtt": ["MonitoringStack", "Outputs.DashboardUrl"]
    }
    url = built["monitoring"]["Outputs"]["DashboardUrl"]["Value"]["Fn::Sub"]
    assert url.endswith("#dashboards:name=${Dashboard}")


def test_nat_gateways_are_reported_as_none_when_absent(built):
    outputs = built["network"]["Outputs"]
    assert outputs["NatGateway1Id"]["Value"] == {"Fn::If": ["HasNat", {"Ref": "NatGateway1"}, "none"]}
    assert outputs["NatGateway2Id"]["Value"] == {"Fn::If": ["NatPerAz", {"Ref": "NatGateway2"}, "none"]}
    # the NAT alarms exist exactly when the network stack creates the gateway: the same conditions on EgressMode
    for name in ("HasNat", "NatPerAz"):
        assert built["monitoring"]["Conditions"][name] == built["network"]["Conditions"][name]
