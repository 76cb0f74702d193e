"""CloudWatch alarms and SNS topic policies and subscriptions (the monitoring stack)."""

from __future__ import annotations

import json
from typing import Any, Callable

from moto.cloudwatch.models import Alarm as CloudWatchAlarm
from moto.cloudwatch.models import Dimension, Metric, MetricDataQuery, MetricStat, cloudwatch_backends
from moto.cloudwatch.responses import CloudWatchResponse
from moto.core.responses import ActionResult
from moto.sns.models import sns_backends

from ..registry import Patch, fix
from ._models import CompatModel, register_models


def _number(value: Any, kind: type = int) -> Any:
    """Template numbers arrive as strings (parameters) or numbers; absent stays absent."""
    return None if value is None else kind(value)


def _queries(metrics: list[dict[str, Any]]) -> list[MetricDataQuery]:
    """Metric-math queries as moto's backend takes them."""
    out = []
    for q in metrics:
        stat = q.get("MetricStat")
        metric_stat = None
        if stat:
            m = stat["Metric"]
            dims = [Dimension(d["Name"], d["Value"]) for d in m.get("Dimensions", [])]
            metric_stat = MetricStat(
                Metric(m["MetricName"], m["Namespace"], dims), stat.get("Period"), stat.get("Stat"), stat.get("Unit")
            )
        out.append(
            MetricDataQuery(
                q["Id"], q.get("Label"), q.get("Period"), q.get("ReturnData"), q.get("Expression"), metric_stat
            )
        )
    return out


class Alarm(CompatModel):
    TYPE = "AWS::CloudWatch::Alarm"

    @classmethod
    def create_resource(cls, name: str, p: dict[str, Any], account_id: str, region_name: str) -> CompatModel:
        alarm = cloudwatch_backends[account_id][region_name].put_metric_alarm(
            name=p.get("AlarmName") or name,
            namespace=p.get("Namespace"),
            metric_name=p.get("MetricName"),
            comparison_operator=p["ComparisonOperator"],
            evaluation_periods=_number(p["EvaluationPeriods"]),
            period=_number(p.get("Period")),
            threshold=_number(p.get("Threshold"), float),
            statistic=p.get("Statistic"),
            description=p.get("AlarmDescription"),
            dimensions=p.get("Dimensions", []),
            alarm_actions=p.get("AlarmActions", []),
            metric_data_queries=_queries(p.get("Metrics", [])),
            datapoints_to_alarm=_number(p.get("DatapointsToAlarm")),
            extended_statistic=p.get("ExtendedStatistic"),
            ok_actions=p.get("OKActions", []),
            insufficient_data_actions=p.get("InsufficientDataActions", []),
            unit=p.get("Unit"),
            actions_enabled=str(p.get("ActionsEnabled", True)).lower() == "true",
            treat_missing_data=p.get("TreatMissingData"),
        )
        return cls(alarm.name, {"Arn": alarm.alarm_arn})

    @classmethod
    def delete_resource(
        cls, physical_id: str, resource_json: dict[str, Any], account_id: str, region_name: str
    ) -> None:
        cloudwatch_backends[account_id][region_name].delete_alarms([physical_id])


class TopicPolicy(CompatModel):
    TYPE = "AWS::SNS::TopicPolicy"

    @classmethod
    def create_resource(cls, name: str, p: dict[str, Any], account_id: str, region_name: str) -> CompatModel:
        document = p["PolicyDocument"] if isinstance(p["PolicyDocument"], str) else json.dumps(p["PolicyDocument"])
        for arn in p["Topics"]:
            sns_backends[account_id][region_name].set_topic_attribute(
                arn, "policy", document
            )  # as SetTopicAttributes stores it
        return cls("|".join(p["Topics"]))

    # deleting the policy resource leaves the topic's last policy, as CloudFormation does


class Subscription(CompatModel):
    TYPE = "AWS::SNS::Subscription"

    @classmethod
    def create_resource(cls, name: str, p: dict[str, Any], account_id: str, region_name: str) -> CompatModel:
        return cls(sns_backends[account_id][region_name].subscribe(p["TopicArn"], p["Endpoint"], p["Protocol"]).arn)

    @classmethod
    def delete_resource(
        cls, physical_id: str, resource_json: dict[str, Any], account_id: str, region_name: str
    ) -> None:
        sns_backends[account_id][region_name].unsubscribe(physical_id)


@fix
def monitoring_resource_types(patch: Patch) -> None:
    """``AWS::CloudWatch::Alarm``, ``AWS::SNS::TopicPolicy`` and ``AWS::SNS::Subscription`` are ignored (a
    ``Ref`` to an alarm is empty, so ECS would get no alarm names): create them in moto's CloudWatch and
    SNS backends, so DescribeAlarms, GetTopicAttributes and ListSubscriptionsByTopic show them."""
    register_models(patch, Alarm, TopicPolicy, Subscription)


def _starting_insufficient(original: Callable[..., None]) -> Callable[..., None]:
    def __init__(self: CloudWatchAlarm, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        self.state_value = "INSUFFICIENT_DATA"

    return __init__


@fix
def alarms_start_insufficient_data(patch: Patch) -> None:
    """A new alarm is ``OK`` at once; on AWS it is ``INSUFFICIENT_DATA`` until its metric is evaluated
    (``status`` must not call a fresh alarm healthy or in alarm)."""
    patch(CloudWatchAlarm, "__init__", _starting_insufficient(CloudWatchAlarm.__init__))


def _describe_alarms(self: CloudWatchResponse) -> ActionResult:
    """DescribeAlarms with every filter applied together, as AWS does (moto uses only the first given)."""
    backend = self.cloudwatch_backend
    prefix, names, state = (
        self._get_param("AlarmNamePrefix"),
        self._get_param("AlarmNames", []),
        self._get_param("StateValue"),
    )
    action_prefix = self._get_param("ActionPrefix")
    alarms = backend.get_alarms_by_action_prefix(action_prefix) if action_prefix else backend.describe_alarms()
    alarms = [
        a
        for a in alarms
        if (not prefix or a.name.startswith(prefix))
        and (not names or a.name in names)
        and (not state or a.state_value == state)
    ]
    return ActionResult(
        {
            "MetricAlarms": [a for a in alarms if a.rule is None],
            "CompositeAlarms": [a for a in alarms if a.rule is not None],
        }
    )


@fix
def describe_alarms_combines_filters(patch: Patch) -> None:
    """DescribeAlarms with a name prefix *and* a state returns every alarm of the prefix, whatever its
    state (moto applies only the first filter): apply them together, as AWS does."""
    patch(CloudWatchResponse, "describe_alarms", _describe_alarms)
