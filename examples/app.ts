/**
 * The example app: what a platform team writes to get a staging environment.
 *
 * `npx projen synth:example` synthesizes it into cdk.out/ and prints a summary;
 * `examples/python/app.py` is the same app in Python and must synthesize the same template.
 */
import { App, Stack } from 'aws-cdk-lib';
import * as route53 from 'aws-cdk-lib/aws-route53';
import { EcsStagingEnvironment, NatStrategy, StagingSecret } from '../src';

/** Name of the example's stack, shared with the Python app and the benchmark. */
export const EXAMPLE_STACK_NAME = 'CdkEcsStagingExample';

/** Builds the example app; call `synth()` on the result. */
export function buildExampleApp(outdir?: string): App {
  const app = new App({ outdir, analyticsReporting: false });
  const stack = new Stack(app, EXAMPLE_STACK_NAME, {
    env: { region: 'us-east-1' },
    description: 'cdk-ecs-staging example: a staging environment with one HTTPS service',
  });

  // Point these at a public hosted zone you own.
  const hostedZone = route53.HostedZone.fromHostedZoneAttributes(stack, 'Zone', {
    hostedZoneId: 'Z0123456789ABCDEFGHIJ',
    zoneName: 'example.com',
  });

  const env = new EcsStagingEnvironment(stack, 'Staging', {
    environmentName: 'staging',
    domain: { domainName: 'staging.example.com', hostedZone },
    network: { maxAzs: 2, natStrategy: NatStrategy.singleGateway() },
  });

  const web = env.addService('web', {
    containerPort: 80,
    cpu: 512,
    memoryLimitMiB: 1024,
    desiredCount: 2,
    healthCheckPath: '/health',
    environment: { LOG_FORMAT: 'json' },
    config: { LOG_LEVEL: 'info' },
    secrets: { DB_PASSWORD: StagingSecret.generate({ excludePunctuation: true }) },
    autoScaling: { minCapacity: 2, maxCapacity: 4, targetCpuPercent: 60 },
  });

  // Pushes to main of acme/web deploy the service, over OIDC.
  web.addGithubActionsDeployRole({ repository: 'acme/web', branch: 'main' });

  return app;
}
