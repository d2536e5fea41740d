/**
 * The preview example: an environment that allows previews, and the preview stack of one pull
 * request, as the preview workflow synthesizes it (`cdk synth -c previewPullRequest=42
 * -c previewSlot=0 -c previewImageTag=pr-42-0123456789ab`).
 *
 * `examples/python/preview.py` is the same app in Python and must synthesize the same templates
 * (`npx projen test:python`).
 */
import { App, Duration, Stack } from 'aws-cdk-lib';
import * as route53 from 'aws-cdk-lib/aws-route53';
import { EcsStagingEnvironment, StagingPreviewStack, StagingSecret } from '../src';

/** Name of the environment's stack in the preview example. */
export const PREVIEW_EXAMPLE_STACK_NAME = 'CdkEcsStagingPreviewExample';

/** The context a preview workflow passes for pull request 42 in slot 0. */
export const PREVIEW_EXAMPLE_CONTEXT = {
  previewPullRequest: '42',
  previewSlot: '0',
  previewImageTag: 'pr-42-0123456789ab',
};

/**
 * Builds the preview example app; call `synth()` on the result.
 *
 * @param outdir the cloud assembly directory
 * @param context the context (defaults to `PREVIEW_EXAMPLE_CONTEXT`; `{}` builds the environment alone)
 */
export function buildPreviewApp(outdir?: string, context: { [key: string]: string } = PREVIEW_EXAMPLE_CONTEXT): App {
  const app = new App({ outdir, analyticsReporting: false, context });
  const stack = new Stack(app, PREVIEW_EXAMPLE_STACK_NAME, {
    env: { region: 'us-east-1' },
    description: 'cdk-ecs-staging example: a staging environment that allows previews',
  });

  // Point these at a public hosted zone you own.
  const hostedZone = route53.HostedZone.fromHostedZoneAttributes(stack, 'Zone', {
    hostedZoneId: 'Z0123456789ABCDEFGHIJ',
    zoneName: 'example.com',
  });

  const env = new EcsStagingEnvironment(stack, 'Staging', {
    environmentName: 'staging',
    domain: { domainName: 'staging.example.com', hostedZone },
    previews: {
      maxPreviews: 3,
      expireAfter: Duration.days(3),
      secrets: ['API_TOKEN'],
    },
  });

  env.addService('web', {
    containerPort: 8080,
    environment: { LOG_FORMAT: 'json' },
    config: { LOG_LEVEL: 'info' },
    secrets: {
      API_TOKEN: StagingSecret.generate({ excludePunctuation: true }),
      DB_PASSWORD: StagingSecret.generate({ excludePunctuation: true }),
    },
  });

  // With the context keys previewPullRequest, previewSlot and previewImageTag: the pull request's preview.
  StagingPreviewStack.fromContext(app, env);
  return app;
}
