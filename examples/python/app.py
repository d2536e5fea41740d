#!/usr/bin/env python3
"""The example app in Python: what a platform team writes to get a staging environment.

This app MUST stay identical to ``examples/app.ts``: same stack name, same props, same
constructs in the same order. ``test/python/smoke.sh`` (``npx projen test:python``) installs the
wheel from ``dist/python`` into a fresh venv, synthesizes both apps and fails if their
CloudFormation templates differ. When you change ``examples/app.ts``, mirror the change here.

Usage: ``python examples/python/app.py [OUTDIR]`` (OUTDIR defaults to ``cdk.out``).
"""
import sys

import aws_cdk as cdk

from aws_cdk import aws_route53 as route53
from cdk_ecs_staging import (
    EcsStagingEnvironment,
    NatStrategy,
    StagingAutoScalingOptions,
    StagingDomainOptions,
    StagingNetworkProps,
    StagingSecret,
)

# Name of the example's stack, shared with the TypeScript app and the benchmark.
EXAMPLE_STACK_NAME = "CdkEcsStagingExample"


def build_example_app(outdir: str = "cdk.out") -> cdk.App:
    """Builds the example app; call ``synth()`` on the result."""
    app = cdk.App(outdir=outdir, analytics_reporting=False)
    stack = cdk.Stack(
        app,
        EXAMPLE_STACK_NAME,
        env=cdk.Environment(region="us-east-1"),
        description="cdk-ecs-staging example: a staging environment with one HTTPS service",
    )

    # Point these at a public hosted zone you own.
    hosted_zone = route53.HostedZone.from_hosted_zone_attributes(
        stack,
        "Zone",
        hosted_zone_id="Z0123456789ABCDEFGHIJ",
        zone_name="example.com",
    )

    env = EcsStagingEnvironment(
        stack,
        "Staging",
        environment_name="staging",
        domain=StagingDomainOptions(domain_name="staging.example.com", hosted_zone=hosted_zone),
        network=StagingNetworkProps(max_azs=2, nat_strategy=NatStrategy.single_gateway()),
    )

    web = env.add_service(
        "web",
        container_port=80,
        cpu=512,
        memory_limit_mib=1024,
        desired_count=2,
        health_check_path="/health",
        environment={"LOG_FORMAT": "json"},
        config={"LOG_LEVEL": "info"},
        secrets={"DB_PASSWORD": StagingSecret.generate(exclude_punctuation=True)},
        auto_scaling=StagingAutoScalingOptions(min_capacity=2, max_capacity=4, target_cpu_percent=60),
    )

    # Pushes to main of acme/web deploy the service, over OIDC.
    web.add_github_actions_deploy_role(repository="acme/web", branch="main")

    return app


if __name__ == "__main__":
    build_example_app(sys.argv[1] if len(sys.argv) > 1 else "cdk.out").synth()
