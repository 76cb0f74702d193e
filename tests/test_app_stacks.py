"""Load balancer (guide §8, §11), services and scaling (§7, §9), DNS (§10, §11)."""

from __future__ import annotations


def _container(built, svc):
    (container,) = built.props("services", f"{svc}TaskDefinition")["ContainerDefinitions"]
    return container


def test_target_groups_health_check_the_guide_paths_every_30_seconds(built):
    for svc, port, path in (("Backend", 3001, "/health"), ("Frontend", 3000, "/")):
        tg = built.props("loadbalancer", f"{svc}TargetGroup")
        assert (tg["TargetType"], tg["Port"], tg["HealthCheckPath"], tg["HealthCheckIntervalSeconds"]) == (
            "ip",
            port,
            path,
            30,
        )


def test_backend_target_group_is_sticky_and_drains_within_spot_notice(built):
    attrs = {a["Key"]: a["Value"] for a in built.props("loadbalancer", "BackendTargetGroup")["TargetGroupAttributes"]}
    assert attrs["stickiness.enabled"] == "true" and attrs["stickiness.type"] == "lb_cookie"
    assert int(attrs["deregistration_delay.timeout_seconds"]) < 120


def test_alb_is_internet_facing_drops_invalid_headers_and_keeps_websockets_open(built):
    alb = built.props("loadbalancer", "LoadBalancer")
    attrs = {a["Key"]: a["Value"] for a in alb["LoadBalancerAttributes"]}
    assert alb["Scheme"] == "internet-facing"
    assert attrs["routing.http.drop_invalid_header_fields.enabled"] == "true"
    assert int(attrs["idle_timeout.timeout_seconds"]) >= 300


def test_http_redirects_to_https_with_a_domain_and_serves_both_without(built):
    (action,) = built.props("loadbalancer", "HttpListener")["DefaultActions"]
    cond, with_domain, without = action["Fn::If"]
    assert cond == "HasDomain"
    assert with_domain["RedirectConfig"] == {"Port": "443", "Protocol": "HTTPS", "StatusCode": "HTTP_301"}
    assert without["TargetGroupArn"] == {"Ref": "FrontendTargetGroup"}
    rule = built.resource("loadbalancer", "HttpBackendRule")
    assert rule["Condition"] == "NoDomain"
    assert rule["Properties"]["Actions"][0]["TargetGroupArn"] == {"Ref": "BackendTargetGroup"}
    assert rule["Properties"]["Conditions"][0]["Field"] == "path-pattern"


def test_https_uses_tls13_the_certificate_and_routes_api_host_to_the_backend(built):
    https = built.resource("loadbalancer", "HttpsListener")
    assert https["Condition"] == "HasDomain"
    assert https["Properties"]["SslPolicy"].startswith("ELBSecurityPolicy-TLS13")
    assert https["Properties"]["Certificates"] == [{"CertificateArn": {"Ref": "CertificateArn"}}]
    assert https["Properties"]["DefaultActions"][0]["TargetGroupArn"] == {"Ref": "FrontendTargetGroup"}
    rule = built.props("loadbalancer", "HttpsBackendRule")
    assert rule["Conditions"][0]["HostHeaderConfig"]["Values"] == [{"Fn::Sub": "api.${DomainName}"}]
    assert rule["Actions"][0]["TargetGroupArn"] == {"Ref": "BackendTargetGroup"}


def test_task_definitions_match_the_guide_sizes_ports_and_logging(built):
    for svc, cpu, mem, port in (("Backend", "512", "1024", 3001), ("Frontend", "256", "512", 3000)):
        td = built.props("services", f"{svc}TaskDefinition")
        assert (td["Cpu"], td["Memory"], td["NetworkMode"], td["RequiresCompatibilities"]) == (
            cpu,
            mem,
            "awsvpc",
            ["FARGATE"],
        )
        c = _container(built, svc)
        assert c["PortMappings"] == [{"ContainerPort": port, "Protocol": "tcp"}]
        assert c["Image"] == {"Fn::Sub": "${" + svc + "RepositoryUri}:${ImageTag}"}
        assert c["LogConfiguration"]["Options"]["awslogs-group"] == {"Ref": f"{svc}LogGroupName"}


def test_backend_gets_tls_redis_url_cors_and_the_auth_token_only_as_a_secret(built):
    c = _container(built, "Backend")
    env = {e["Name"]: e["Value"] for e in c["Environment"]}
    assert env["PORT"] == "3001" and env["NODE_ENV"] == "production"
    assert env["REDIS_URL"] == {"Fn::Sub": "rediss://${RedisEndpointAddress}:${RedisEndpointPort}"}
    assert env["CORS_ORIGIN"] == {"Ref": "SiteOrigins"}
    assert c["Secrets"] == [{"Name": "REDIS_AUTH_TOKEN", "ValueFrom": {"Ref": "RedisAuthSecretArn"}}]
    assert not any("Secret" in str(v) for v in env.values())
    front = {e["Name"]: e["Value"] for e in _container(built, "Frontend")["Environment"]}
    assert front["NEXT_PUBLIC_API_URL"] == {"Ref": "ApiUrl"}


def test_services_use_the_capacity_strategy_circuit_breaker_and_private_subnets(built):
    for svc in ("Backend", "Frontend"):
        s = built.props("services", f"{svc}Service")
        assert "LaunchType" not in s
        assert [i["CapacityProvider"] for i in s["CapacityProviderStrategy"]] == ["FARGATE", "FARGATE_SPOT"]
        assert s["DeploymentConfiguration"]["DeploymentCircuitBreaker"] == {"Enable": True, "Rollback": True}
        assert s["HealthCheckGracePeriodSeconds"] > 0
        # Issue 21 finding 12: a template DesiredCount is set again on every update that touches the service (a
        # scale-in mid-event); without it the scalable target's MinCapacity sets the count
        # (https://docs.aws.amazon.com/autoscaling/application/APIReference/API_RegisterScalableTarget.html).
        assert "DesiredCount" not in s
        target = built.props("services", f"{svc}ScalableTarget")
        assert target["MinCapacity"] == {"Ref": f"{svc}MinCapacity"}
        vpc = s["NetworkConfiguration"]["AwsvpcConfiguration"]
        assert vpc["AssignPublicIp"] == {"Ref": "TaskAssignPublicIp"}
        assert vpc["Subnets"] == {"Fn::Split": [",", {"Ref": "TaskSubnetIds"}]}
    params = built["root"]["Parameters"]
    assert params["BackendMinCapacity"]["Default"] == params["FrontendMinCapacity"]["Default"] == "2"


def test_services_start_only_after_their_listener_rules_exist(built):
    """Cross-stack DependsOn is impossible; the services stack consumes the load-balancer stack's outputs."""
    params = built.props("root", "ServicesStack")["Parameters"]
    assert params["BackendTargetGroupArn"] == {"Fn::GetAtt": ["LoadBalancerStack", "Outputs.BackendTargetGroupArn"]}


def test_backend_scales_on_cpu_exactly_as_the_guide(built):
    target = built.props("services", "BackendScalableTarget")
    assert (target["MinCapacity"], target["MaxCapacity"]) == (
        {"Ref": "BackendMinCapacity"},
        {"Ref": "BackendMaxCapacity"},
    )
    params = built["root"]["Parameters"]
    assert (
        params["BackendMinCapacity"]["Default"],
        params["BackendMaxCapacity"]["Default"],
        params["BackendCpuTarget"]["Default"],
    ) == ("2", "10", "70")
    cfg = built.props("services", "BackendCpuScalingPolicy")["TargetTrackingScalingPolicyConfiguration"]
    assert cfg["PredefinedMetricSpecification"]["PredefinedMetricType"] == "ECSServiceAverageCPUUtilization"
    assert (cfg["ScaleInCooldown"], cfg["ScaleOutCooldown"]) == (300, 60)
    assert len(built.resources("services", "AWS::ApplicationAutoScaling::ScalingPolicy")) == 2


def test_dns_creates_a_retained_zone_only_without_a_zone_id_and_validates_the_certificate(built):
    """Issue 21 finding 4: the zone is kept only once the operation that created it succeeds (a rolled-back
    create deletes it, so the retry does not leave a second zone with other name servers):
    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-attribute-deletionpolicy.html"""
    zone = built.resource("dns", "HostedZone")
    assert zone["Condition"] == "CreateZone" and zone["DeletionPolicy"] == "RetainExceptOnCreate"
    assert zone["UpdateReplacePolicy"] == "Retain"
    cert = built.props("dns", "Certificate")
    assert cert["ValidationMethod"] == "DNS"
    assert [o["DomainName"] for o in cert["DomainValidationOptions"]][0] == {"Ref": "DomainName"}
    assert len(cert["SubjectAlternativeNames"]) == 2
    records = built.resources("records", "AWS::Route53::RecordSet")
    assert sorted(records) == ["ApexRecord", "ApiRecord", "WwwRecord"]
    assert all(r["Properties"]["AliasTarget"]["DNSName"] == {"Ref": "AlbDnsName"} for r in records.values())


def test_root_outputs_everything_engineers_need(built):
    outputs = built["root"]["Outputs"]
    for name in (
        "SiteUrl",
        "ApiUrl",
        "AlbDnsName",
        "BackendRepositoryUri",
        "FrontendRepositoryUri",
        "ClusterName",
        "BackendServiceName",
        "FrontendServiceName",
        "RedisEndpointAddress",
        "BackendLogGroupName",
        "FrontendLogGroupName",
    ):
        assert name in outputs, name
    assert outputs["BackendServiceName"]["Condition"] == "HasImageTag"


def test_every_container_keeps_idle_connections_open_longer_than_the_alb(built):
    """Issue 21 finding 7: the application's keep-alive must outlast the ALB's idle timeout, else the ALB answers
    502 on a connection the app just closed (ELB User Guide, connection idle timeout). Node's default is 5 s."""
    alb = built.props("loadbalancer", "LoadBalancer")
    attrs = {a["Key"]: a["Value"] for a in alb["LoadBalancerAttributes"]}
    idle_ms = int(attrs["idle_timeout.timeout_seconds"]) * 1000
    for svc in ("Backend", "Frontend"):
        env = {e["Name"]: e["Value"] for e in _container(built, svc)["Environment"]}
        assert int(env["KEEP_ALIVE_TIMEOUT"]) > idle_ms, svc


def test_the_waf_counts_large_bodies_instead_of_blocking_them_and_keeps_the_user_agent_rule(built):
    """Issue 21 finding 8: the core rule set blocks bodies over 8 KB (SizeRestrictions_BODY) and requests without a
    User-Agent (NoUserAgent_HEADER): https://docs.aws.amazon.com/waf/latest/developerguide/
    aws-managed-rule-groups-baseline.html. Large bodies are counted; a missing User-Agent is still blocked."""
    rules = {r["Name"]: r for r in built.props("loadbalancer", "WebAcl")["Rules"]}
    statement = rules["AWSManagedRulesCommonRuleSet"]["Statement"]["ManagedRuleGroupStatement"]
    assert statement["RuleActionOverrides"] == [{"Name": "SizeRestrictions_BODY", "ActionToUse": {"Count": {}}}]
    others = [n for n in rules if n != "AWSManagedRulesCommonRuleSet"]
    assert all("RuleActionOverrides" not in str(rules[n]) for n in others)
