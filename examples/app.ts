/**
 * The example app: what a platform team writes to get a staging environment.
 *
 * `npx projen synth:example` synthesizes it into cdk.out/ and prints a summary;
 * `examples/python/app.py` is the same app in Python and must synthesize the same template.
 */
import { App, Stack } from 'aws-cdk-lib';
import { NatStrategy, StagingNetwork } from '../src';

/** Name of the example's stack, shared with the Python app and the benchmark. */
export const EXAMPLE_STACK_NAME = 'CdkEcsStagingExample';

/** Builds the example app; call `synth()` on the result. */
export function buildExampleApp(outdir?: string): App {
  const app = new App({ outdir, analyticsReporting: false });
  const stack = new Stack(app, EXAMPLE_STACK_NAME, {
    description: 'cdk-ecs-staging example: a staging network on 2 AZs with one NAT gateway',
  });

  new StagingNetwork(stack, 'Network', {
    maxAzs: 2,
    natStrategy: NatStrategy.singleGateway(),
  });

  return app;
}
