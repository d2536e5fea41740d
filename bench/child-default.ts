/**
 * Benchmark child (default): the default environment with what the baseline has too: HTTPS with a
 * DNS-validated certificate and the redirect, one service of two tasks with CPU autoscaling. Every
 * default is on (network, flow logs, access logs, alarms, dashboard, deployment events).
 */
import { App, Stack } from 'aws-cdk-lib';
import * as route53 from 'aws-cdk-lib/aws-route53';
import { EcsStagingEnvironment } from '../src';
import { benchContext, measure } from './measure';

measure((outdir) => {
  const app = new App({ outdir, analyticsReporting: false, context: benchContext() });
  const stack = new Stack(app, 'DefaultEnvironment', { env: { region: 'us-east-1' } });
  const hostedZone = route53.HostedZone.fromHostedZoneAttributes(stack, 'Zone', { hostedZoneId: 'Z0123456789ABCDEFGHIJ', zoneName: 'example.com' });
  const env = new EcsStagingEnvironment(stack, 'Staging', { domain: { domainName: 'staging.example.com', hostedZone } });
  env.addService('web', { desiredCount: 2, autoScaling: { maxCapacity: 4 } });
  return app;
});
