#!/usr/bin/env python3
"""The preview example in Python: an environment that allows previews, and the preview stack of
one pull request, as the preview workflow synthesizes it
(``cdk synth -c previewPullRequest=42 -c previewSlot=0 -c previewImageTag=pr-42-0123456789ab``).

This app MUST stay identical to ``examples/preview.ts``: same stack names, same props, same
constructs in the same order. ``test/python/smoke.sh`` (``npx projen test:python``) synthesizes
both and fails if their CloudFormation templates differ. When you change ``examples/preview.ts``,
mirror the change here.

Usage: ``python examples/python/preview.py [OUTDIR]`` (OUTDIR defaults to ``cdk.out``).
"""
import sys

import aws_cdk as cdk

from aws_cdk import aws_route53 as route53
from cdk_ecs_staging import (
    EcsStagingEnvironment,
    StagingDomainOptions,
    StagingPreviewStack,
    StagingPreviewsOptions,
    StagingSecret,
)

# Name of the environment's stack in the preview example, shared with the TypeScript app.
PREVIEW_EXAMPLE_STACK_NAME = "CdkEcsStagingPreviewExample"

# The context a preview workflow passes for pull request 42 in slot 0.
PREVIEW_EXAMPLE_CONTEXT = {
    "previewPullRequest": "42",
    "previewSlot": "0",
    "previewImageTag": "pr-42-0123456789ab",
}


def build_preview_app(outdir: str = "cdk.out", context=None) -> cdk.App:
    """Builds the preview example app; call ``synth()`` on the result.

    ``context`` defaults to ``PREVIEW_EXAMPLE_CONTEXT``; ``{}`` builds the environment alone.
    """
    app = cdk.App(
        outdir=outdir,
        analytics_reporting=False,
        context=PREVIEW_EXAMPLE_CONTEXT if context is None else context,
    )
    stack = cdk.Stack(
        app,
        PREVIEW_EXAMPLE_STACK_NAME,
        env=cdk.Environment(region="us-east-1"),
        description="cdk-ecs-staging example: a staging environment that allows previews",
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
        previews=StagingPreviewsOptions(
            max_previews=3,
            expire_after=cdk.Duration.days(3),
            secrets=["API_TOKEN"],
        ),
    )

    env.add_service(
        "web",
        container_port=8080,
        environment={"LOG_FORMAT": "json"},
        config={"LOG_LEVEL": "info"},
        secrets={
            "API_TOKEN": StagingSecret.generate(exclude_punctuation=True),
            "DB_PASSWORD": StagingSecret.generate(exclude_punctuation=True),
        },
    )

    # With the context keys previewPullRequest, previewSlot and previewImageTag: the pull request's preview.
    StagingPreviewStack.from_context(app, env)
    return app


if __name__ == "__main__":
    build_preview_app(sys.argv[1] if len(sys.argv) > 1 else "cdk.out").synth()
