"""deploy/deploy_fargate.sh against moto: what it creates, read back through boto3.

moto records the cluster, task definitions, service, target group, scaling policy and log
group but starts no tasks, so `aws ecs wait services-stable` (skipped with --no-wait)
and the container health check can only be exercised in a real AWS account.
"""

from __future__ import annotations

import json
import re
import subprocess
from dataclasses import dataclass

import pytest

from stroke_risk.core.config import Settings
from tests.ops.conftest import DEPLOY_SCRIPT, REGION, FakeEngine, run_script

CLUSTER = "stroke-risk-test"
SERVICE = "stroke-risk-api"
FAMILY = "stroke-risk-test"


@dataclass
class AwsNetwork:
    subnets: list[str]
    security_group: str
    target_group_arn: str
    secret_arn: str
    execution_role_arn: str


def required_settings(network: AwsNetwork, image: str) -> dict[str, str]:
    return {
        "IMAGE_URI": image,
        "SUBNETS": ",".join(network.subnets),
        "SECURITY_GROUPS": network.security_group,
        "TARGET_GROUP_ARN": network.target_group_arn,
        "EXECUTION_ROLE_ARN": network.execution_role_arn,
        "API_KEYS_SECRET_ARN": network.secret_arn,
    }


def make_network(aws_client, name: str, target_type: str = "ip") -> AwsNetwork:
    """What the deployment expects to exist already: a VPC, an ALB target group, a secret."""
    ec2 = aws_client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.20.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.20.{n}.0/24", AvailabilityZone=f"{REGION}{z}")[
            "Subnet"
        ]["SubnetId"]
        for n, z in ((1, "a"), (2, "b"))
    ]
    group = ec2.create_security_group(GroupName=name, Description="api", VpcId=vpc)["GroupId"]
    target_group = aws_client("elbv2").create_target_group(
        Name=name, Protocol="HTTP", Port=3000, VpcId=vpc, TargetType=target_type
    )["TargetGroups"][0]["TargetGroupArn"]
    secret = aws_client("secretsmanager").create_secret(
        Name=f"{name}-api-keys", SecretString="key-one,key-two"
    )["ARN"]
    role = aws_client("iam").create_role(
        RoleName=f"{name}-execution",
        AssumeRolePolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "ecs-tasks.amazonaws.com"},
                        "Action": "sts:AssumeRole",
                    }
                ],
            }
        ),
    )["Role"]["Arn"]
    return AwsNetwork(subnets, group, target_group, secret, role)


@dataclass
class Deployment:
    network: AwsNetwork
    runs: list[subprocess.CompletedProcess[str]]


@pytest.fixture(scope="module")
def deployment(moto_env: dict[str, str], aws_client) -> Deployment:
    """Two runs of the script: the first creates everything, the second updates."""
    network = make_network(aws_client, "stroke-risk-deploy")
    runs = []
    for tag in ("v1", "v2"):
        env = {
            **moto_env,
            **required_settings(network, f"123456789012.dkr.ecr.{REGION}.amazonaws.com/sr:{tag}"),
            "ECS_CLUSTER": CLUSTER,
            "ECS_SERVICE": SERVICE,
            "ECS_TASK_FAMILY": FAMILY,
            "MIN_TASKS": "2",
            "MAX_TASKS": "6",
        }
        runs.append(run_script(DEPLOY_SCRIPT, "--no-wait", env=env))
    return Deployment(network, runs)


@pytest.mark.slow
def test_deploying_twice_succeeds(deployment: Deployment) -> None:
    first, second = deployment.runs
    assert first.returncode == 0, first.stderr
    assert second.returncode == 0, second.stderr
    assert "ecs create-cluster" in first.stderr and "ecs create-service" in first.stderr
    assert f"Cluster {CLUSTER} exists" in second.stderr
    assert "ecs update-service" in second.stderr and "ecs create-service" not in second.stderr


@pytest.mark.slow
def test_the_cluster_exists_once(deployment: Deployment, aws_client) -> None:
    clusters = aws_client("ecs").describe_clusters(clusters=[CLUSTER])["clusters"]
    assert [cluster["status"] for cluster in clusters] == ["ACTIVE"]
    arns = aws_client("ecs").list_clusters()["clusterArns"]
    assert sum(arn.endswith(f"/{CLUSTER}") for arn in arns) == 1


@pytest.mark.slow
def test_the_task_definition_fits_fargate(deployment: Deployment, aws_client) -> None:
    definition = aws_client("ecs").describe_task_definition(taskDefinition=FAMILY)["taskDefinition"]
    assert definition["revision"] == 2  # one revision per run
    assert definition["requiresCompatibilities"] == ["FARGATE"]
    assert definition["networkMode"] == "awsvpc"
    assert (definition["cpu"], definition["memory"]) == ("512", "1024")
    assert definition["executionRoleArn"] == deployment.network.execution_role_arn
    assert "taskRoleArn" not in definition or not definition["taskRoleArn"]
    (container,) = definition["containerDefinitions"]
    assert container["image"].endswith("/sr:v2")
    assert container["portMappings"][0]["containerPort"] == 3000
    assert {"name": "BENTOML_DO_NOT_TRACK", "value": "true"} in container["environment"]
    # Half a vCPU: one worker, not one per CPU the task's machine happens to report.
    assert {"name": "STROKE_WORKERS", "value": "1"} in container["environment"]
    assert container["secrets"] == [
        {"name": "STROKE_API_KEYS", "valueFrom": deployment.network.secret_arn}
    ]
    assert not any("KEY" in variable["name"] for variable in container["environment"])
    health = container["healthCheck"]["command"]
    assert health[:3] == ["CMD", "python", "-c"] and "/readyz" in health[3]
    logs = container["logConfiguration"]
    assert logs["logDriver"] == "awslogs"
    assert logs["options"]["awslogs-group"] == "/ecs/stroke-risk"
    assert logs["options"]["awslogs-region"] == REGION


@pytest.mark.slow
def test_the_health_check_command_is_valid_python(deployment: Deployment, aws_client) -> None:
    definition = aws_client("ecs").describe_task_definition(taskDefinition=FAMILY)
    code = definition["taskDefinition"]["containerDefinitions"][0]["healthCheck"]["command"][3]
    compile(code, "<healthCheck>", "exec")


@pytest.mark.slow
def test_the_service_runs_on_fargate_behind_the_target_group(
    deployment: Deployment, aws_client
) -> None:
    (service,) = aws_client("ecs").describe_services(cluster=CLUSTER, services=[SERVICE])[
        "services"
    ]
    assert service["status"] == "ACTIVE"
    assert service["launchType"] == "FARGATE"
    assert service["taskDefinition"].endswith(f"task-definition/{FAMILY}:2")
    assert service["desiredCount"] == 2
    network = service["networkConfiguration"]["awsvpcConfiguration"]
    assert network["subnets"] == deployment.network.subnets
    assert network["securityGroups"] == [deployment.network.security_group]
    assert network["assignPublicIp"] == "DISABLED"
    assert service["loadBalancers"] == [
        {
            "targetGroupArn": deployment.network.target_group_arn,
            "containerName": "stroke-risk",
            "containerPort": 3000,
        }
    ]


@pytest.mark.slow
def test_the_target_group_checks_readyz(deployment: Deployment, aws_client) -> None:
    (group,) = aws_client("elbv2").describe_target_groups(
        TargetGroupArns=[deployment.network.target_group_arn]
    )["TargetGroups"]
    assert group["HealthCheckPath"] == "/readyz"
    assert group["Matcher"] == {"HttpCode": "200"}


@pytest.mark.slow
def test_a_stopping_task_drains_before_it_is_killed(deployment: Deployment, aws_client) -> None:
    """The load balancer drains a target for as long as the service keeps serving after
    SIGTERM, and ECS waits for that and the longest request before SIGKILL."""
    attributes = aws_client("elbv2").describe_target_group_attributes(
        TargetGroupArn=deployment.network.target_group_arn
    )["Attributes"]
    delay = int({a["Key"]: a["Value"] for a in attributes}["deregistration_delay.timeout_seconds"])
    definition = aws_client("ecs").describe_task_definition(taskDefinition=FAMILY)
    (container,) = definition["taskDefinition"]["containerDefinitions"]
    environment = {item["name"]: item["value"] for item in container["environment"]}
    grace = float(environment["STROKE_SHUTDOWN_GRACE"])
    assert grace == delay
    longest_request = Settings().request_timeout
    assert container["stopTimeout"] >= grace + longest_request + 5


@pytest.mark.slow
def test_auto_scaling_tracks_cpu_between_min_and_max(deployment: Deployment, aws_client) -> None:
    scaling = aws_client("application-autoscaling")
    resource = f"service/{CLUSTER}/{SERVICE}"
    (target,) = scaling.describe_scalable_targets(ServiceNamespace="ecs", ResourceIds=[resource])[
        "ScalableTargets"
    ]
    assert (target["MinCapacity"], target["MaxCapacity"]) == (2, 6)
    assert target["ScalableDimension"] == "ecs:service:DesiredCount"
    (policy,) = scaling.describe_scaling_policies(ServiceNamespace="ecs", ResourceId=resource)[
        "ScalingPolicies"
    ]
    assert policy["PolicyType"] == "TargetTrackingScaling"
    configuration = policy["TargetTrackingScalingPolicyConfiguration"]
    assert configuration["PredefinedMetricSpecification"] == {
        "PredefinedMetricType": "ECSServiceAverageCPUUtilization"
    }
    assert configuration["TargetValue"] == 60


@pytest.mark.slow
def test_the_log_group_exists_once_with_retention(deployment: Deployment, aws_client) -> None:
    groups = aws_client("logs").describe_log_groups(logGroupNamePrefix="/ecs/stroke-risk")
    (group,) = [g for g in groups["logGroups"] if g["logGroupName"] == "/ecs/stroke-risk"]
    assert group["retentionInDays"] == 30


@pytest.mark.slow
def test_a_target_group_for_instances_is_refused(moto_env: dict[str, str], aws_client) -> None:
    network = make_network(aws_client, "stroke-risk-instances", target_type="instance")
    env = {
        **moto_env,
        **required_settings(network, "example/sr:v1"),
        "ECS_CLUSTER": "stroke-risk-refused",
    }
    completed = run_script(DEPLOY_SCRIPT, "--no-wait", env=env)
    assert completed.returncode == 1
    assert completed.stderr.strip().splitlines()[-1] == (
        f"error: target group {network.target_group_arn} has target type 'instance': "
        "Fargate (awsvpc) needs 'ip'"
    )
    services = aws_client("ecs").list_services(cluster="stroke-risk-refused")["serviceArns"]
    assert services == []


# The checks below need no AWS at all.


@pytest.mark.parametrize("missing", ["IMAGE_URI", "SUBNETS", "API_KEYS_SECRET_ARN"])
def test_preflight_names_a_missing_setting(fake_engine: FakeEngine, missing: str) -> None:
    settings = {
        "IMAGE_URI": "example/sr:v1",
        "SUBNETS": "subnet-1",
        "SECURITY_GROUPS": "sg-1",
        "TARGET_GROUP_ARN": "arn:tg",
        "EXECUTION_ROLE_ARN": "arn:role",
        "API_KEYS_SECRET_ARN": "arn:secret",
    }
    del settings[missing]
    completed = run_script(DEPLOY_SCRIPT, env=fake_engine.environment(**settings))
    assert completed.returncode == 1
    assert completed.stderr.strip().startswith(f"error: {missing} is not set")
    assert fake_engine.calls() == []


def test_preflight_refuses_min_above_max(fake_engine: FakeEngine) -> None:
    env = fake_engine.environment(
        IMAGE_URI="i",
        SUBNETS="s",
        SECURITY_GROUPS="g",
        TARGET_GROUP_ARN="t",
        EXECUTION_ROLE_ARN="r",
        API_KEYS_SECRET_ARN="k",
        MIN_TASKS="5",
        MAX_TASKS="2",
    )
    completed = run_script(DEPLOY_SCRIPT, env=env)
    assert completed.stderr.strip() == "error: MIN_TASKS (5) is above MAX_TASKS (2)"


def dry_run(fake_engine: FakeEngine, **settings: str) -> subprocess.CompletedProcess[str]:
    """The deploy script in --dry-run with every required setting (``settings`` override)."""
    required = {
        "AWS_CLI": "aws",
        "AWS_REGION": REGION,
        "IMAGE_URI": "example/sr:v1",
        "SUBNETS": "subnet-1, subnet-2",
        "SECURITY_GROUPS": "sg-1",
        "TARGET_GROUP_ARN": "arn:tg",
        "EXECUTION_ROLE_ARN": "arn:role",
        "API_KEYS_SECRET_ARN": "arn:secret",
    }
    env = fake_engine.environment(**{**required, **settings})
    return run_script(DEPLOY_SCRIPT, "--dry-run", env=env)


def test_dry_run_prints_every_aws_call_and_runs_none(fake_engine: FakeEngine) -> None:
    completed = dry_run(fake_engine)
    assert completed.returncode == 0, completed.stderr
    assert fake_engine.calls() == []
    calls = [
        " ".join(line.split()[4:6])
        for line in completed.stdout.splitlines()
        if line.startswith(f"+ aws --region {REGION} ")
    ]
    assert calls == [
        "sts get-caller-identity",
        "logs describe-log-groups",
        "logs create-log-group",
        "logs put-retention-policy",
        "ecs register-task-definition",
        "ecs describe-clusters",
        "ecs create-cluster",
        "elbv2 modify-target-group",
        "elbv2 modify-target-group-attributes",
        "ecs describe-services",
        "ecs create-service",
        "ecs update-service",
        "application-autoscaling register-scalable-target",
        "application-autoscaling put-scaling-policy",
        "ecs wait",
    ]
    assert "--launch-type FARGATE" in completed.stdout
    assert '"subnets":["subnet-1","subnet-2"]' in completed.stdout
    assert '"image": "example/sr:v1",' in completed.stdout  # the rendered task definition


@pytest.mark.parametrize(("task_cpu", "workers"), [("256", "1"), ("1024", "1"), ("4096", "4")])
def test_the_service_runs_one_worker_per_whole_vcpu(
    fake_engine: FakeEngine, task_cpu: str, workers: str
) -> None:
    completed = dry_run(fake_engine, TASK_CPU=task_cpu)
    assert completed.returncode == 0, completed.stderr
    lines = completed.stdout.splitlines()
    rendered = "\n".join(line.removeprefix("#   ") for line in lines if line.startswith("#   "))
    environment = json.loads(rendered)["containerDefinitions"][0]["environment"]
    assert {"name": "STROKE_WORKERS", "value": workers} in environment


def rendered_task_definition(completed: subprocess.CompletedProcess[str]) -> dict:
    lines = completed.stdout.splitlines()
    return json.loads(
        "\n".join(line.removeprefix("#   ") for line in lines if line.startswith("#   "))
    )


def deploy_script_constant(name: str) -> int:
    (value,) = re.findall(rf"^{name}=(\d+)$", DEPLOY_SCRIPT.read_text(), flags=re.MULTILINE)
    return int(value)


@pytest.mark.parametrize(
    ("task_cpu", "memory"), [("256", "512"), ("512", "1024"), ("1024", "2048"), ("4096", "8192")]
)
def test_the_task_memory_is_derived_from_the_workers_measured_memory(
    fake_engine: FakeEngine, task_cpu: str, memory: str
) -> None:
    """Without TASK_MEMORY, the smallest Fargate size for the CPU that holds the arbiter and
    every worker after a 10,000-patient batch, half again (bench/container/README.md)."""
    completed = dry_run(fake_engine, TASK_CPU=task_cpu)
    assert completed.returncode == 0, completed.stderr
    definition = rendered_task_definition(completed)
    assert definition["memory"] == memory
    workers = max(int(task_cpu) // 1024, 1)
    needed = (
        deploy_script_constant("ARBITER_MEMORY_MB")
        + workers * deploy_script_constant("WORKER_MEMORY_MB")
    ) * 1.5
    assert int(memory) >= needed
    assert f"Task memory {memory} MiB for {workers} worker(s)" in completed.stderr


def test_an_explicit_task_memory_wins_and_an_unknown_cpu_size_is_refused(
    fake_engine: FakeEngine,
) -> None:
    explicit = dry_run(fake_engine, TASK_CPU="1024", TASK_MEMORY="3072")
    assert explicit.returncode == 0, explicit.stderr
    assert rendered_task_definition(explicit)["memory"] == "3072"
    refused = dry_run(fake_engine, TASK_CPU="300")
    assert refused.returncode == 1
    assert "TASK_CPU=300 is not a Fargate size" in refused.stderr


def test_the_task_runs_on_a_read_only_root_filesystem(fake_engine: FakeEngine) -> None:
    completed = dry_run(fake_engine)
    assert completed.returncode == 0, completed.stderr
    definition = rendered_task_definition(completed)
    (container,) = definition["containerDefinitions"]
    assert container["readonlyRootFilesystem"] is True
    assert {mount["containerPath"] for mount in container["mountPoints"]} == {
        "/tmp",
        "/home/bentoml/prometheus_multiproc_dir",
    }
