"""The deploy script's ALB listener (security review): with LISTENER_ARN, only the API's routes are
forwarded to the service and everything else answers 404, so the docs, /metrics and
BentoML's other routes cannot be reached through the load balancer."""

from __future__ import annotations

import json

import pytest

from tests.ops.conftest import DEPLOY_SCRIPT, REGION, FakeEngine, run_script
from tests.ops.test_deploy_fargate import dry_run, make_network, required_settings

API_PATHS = [
    "/predict",
    "/predict_batch",
    "/fhir/risk-assessment",
    "/cds-services",
    "/cds-services/*",
]


def elbv2_calls(stdout: str) -> list[str]:
    """The elbv2 operations a dry run prints, in order."""
    calls = [line.split() for line in stdout.splitlines() if " elbv2 " in line]
    return [words[words.index("elbv2") + 1] for words in calls]


def test_without_a_listener_the_script_leaves_the_listener_alone(fake_engine: FakeEngine):
    completed = dry_run(fake_engine)
    assert completed.returncode == 0, completed.stderr
    # The target group's health check and its deregistration delay; no listener call.
    assert elbv2_calls(completed.stdout) == [
        "modify-target-group",
        "modify-target-group-attributes",
    ]


def test_with_a_listener_the_dry_run_forwards_only_the_api_and_answers_404_otherwise(
    fake_engine: FakeEngine,
):
    completed = dry_run(fake_engine, LISTENER_ARN="arn:listener")
    assert completed.returncode == 0, completed.stderr
    assert elbv2_calls(completed.stdout) == [
        "modify-target-group",
        "modify-target-group-attributes",
        "describe-rules",
        "create-rule",
        "modify-listener",
    ]
    assert json.dumps(API_PATHS, separators=(",", ":")) in completed.stdout
    assert '"StatusCode":"404"' in completed.stdout


@pytest.mark.parametrize("paths", ["/a,/b,/c,/d,/e,/f", "predict", " , "])
def test_routed_paths_must_fit_one_rule(fake_engine: FakeEngine, paths: str):
    completed = dry_run(fake_engine, ROUTED_PATHS=paths)
    assert completed.returncode == 1
    assert completed.stderr.strip().splitlines()[-1].startswith("error: ROUTED_PATHS must")


@pytest.mark.slow
def test_deploying_with_a_listener_twice_keeps_one_rule_for_the_api(moto_env, aws_client):
    network = make_network(aws_client, "stroke-risk-listener")
    elbv2 = aws_client("elbv2")
    balancer = elbv2.create_load_balancer(
        Name="stroke-risk-listener", Subnets=network.subnets, SecurityGroups=[]
    )["LoadBalancers"][0]["LoadBalancerArn"]
    listener = elbv2.create_listener(
        LoadBalancerArn=balancer,
        Protocol="HTTP",
        Port=80,
        DefaultActions=[{"Type": "forward", "TargetGroupArn": network.target_group_arn}],
    )["Listeners"][0]["ListenerArn"]
    env = {
        **moto_env,
        **required_settings(network, f"123456789012.dkr.ecr.{REGION}.amazonaws.com/sr:v1"),
        "ECS_CLUSTER": "stroke-risk-listener",
        "ECS_SERVICE": "stroke-risk-listener",
        "LISTENER_ARN": listener,
    }
    for _ in range(2):
        completed = run_script(DEPLOY_SCRIPT, "--no-wait", env=env)
        assert completed.returncode == 0, completed.stderr
    rules = elbv2.describe_rules(ListenerArn=listener)["Rules"]
    (default,) = [rule for rule in rules if rule["IsDefault"]]
    (api,) = [rule for rule in rules if not rule["IsDefault"]]
    assert default["Actions"][0]["Type"] == "fixed-response"
    assert default["Actions"][0]["FixedResponseConfig"]["StatusCode"] == "404"
    (condition,) = api["Conditions"]
    assert condition["PathPatternConfig"]["Values"] == API_PATHS
    assert api["Actions"][0]["TargetGroupArn"] == network.target_group_arn
