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

from cdk_ecs_staging import NatStrategy, StagingNetwork

# Name of the example's stack, shared with the TypeScript app and the benchmark.
EXAMPLE_STACK_NAME = "CdkEcsStagingExample"


def build_example_app(outdir: str = "cdk.out") -> cdk.App:
    """Builds the example app; call ``synth()`` on the result."""
    app = cdk.App(outdir=outdir, analytics_reporting=False)
    stack = cdk.Stack(
        app,
        EXAMPLE_STACK_NAME,
        description="cdk-ecs-staging example: a staging network on 2 AZs with one NAT gateway",
    )

    StagingNetwork(
        stack,
        "Network",
        max_azs=2,
        nat_strategy=NatStrategy.single_gateway(),
    )

    return app


if __name__ == "__main__":
    build_example_app(sys.argv[1] if len(sys.argv) > 1 else "cdk.out").synth()
