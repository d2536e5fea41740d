/**
 * Benchmark child (baseline): an HTTPS aws-ecs-patterns ApplicationLoadBalancedFargateService
 * with a DNS-validated certificate, HTTP redirect, deployment circuit breaker and CPU
 * autoscaling, in the default VPC the pattern creates.
 */
import { App, Stack } from 'aws-cdk-lib';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as ecsPatterns from 'aws-cdk-lib/aws-ecs-patterns';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import * as route53 from 'aws-cdk-lib/aws-route53';
import { benchContext, measure } from './measure';

measure((outdir) => {
  const app = new App({ outdir, analyticsReporting: false, context: benchContext() });
  const stack = new Stack(app, 'BaselineAlbFargate');

  const service = new ecsPatterns.ApplicationLoadBalancedFargateService(stack, 'Service', {
    protocol: elbv2.ApplicationProtocol.HTTPS,
    domainName: 'staging.example.com',
    domainZone: route53.HostedZone.fromHostedZoneAttributes(stack, 'Zone', {
      hostedZoneId: 'Z0123456789ABCDEFGHIJ',
      zoneName: 'example.com',
    }),
    redirectHTTP: true,
    circuitBreaker: { rollback: true },
    taskImageOptions: { image: ecs.ContainerImage.fromRegistry('public.ecr.aws/nginx/nginx:1.27') },
  });
  service.service.autoScaleTaskCount({ maxCapacity: 4 })
    .scaleOnCpuUtilization('Cpu', { targetUtilizationPercent: 60 });

  return app;
});
