/**
 * `cdk-ecs-staging validate` against moto's server: a correctly built environment passes, and each
 * check fails, with its fix, on an environment broken the way it guards against.
 */
import * as fs from 'fs';
import * as http from 'http';
import { AddressInfo } from 'net';
import * as path from 'path';
import { SetAlarmStateCommand } from '@aws-sdk/client-cloudwatch';
import { CreateTransitGatewayCommand, DeleteRouteCommand, DeleteSubnetCommand, DescribeRouteTablesCommand, DisassociateRouteTableCommand, ReplaceRouteCommand } from '@aws-sdk/client-ec2';
import { BatchDeleteImageCommand } from '@aws-sdk/client-ecr';
import { UpdateServiceCommand } from '@aws-sdk/client-ecs';
import { DeleteSecretCommand } from '@aws-sdk/client-secrets-manager';
import { UnsubscribeCommand } from '@aws-sdk/client-sns';
import { PutParameterCommand } from '@aws-sdk/client-ssm';
import { LoadBalancerServer, startLoadBalancerServer } from './harness/load-balancer-server';
import { Moto, startMoto } from './harness/moto';
import { MotoClients, SeedOptions, SeededEnvironment, motoClients, seedEnvironment } from './harness/seed-environment';
import { CALLED, RunOptions, deployments, fixOf, hooksFor, lineOf, runValidate, simulator, withMotoEnvironment } from './harness/validate-run';
import { validate } from '../src/cli/validate';

let moto: Moto;
let lb: LoadBalancerServer;
let aws: MotoClients;

beforeAll(async () => {
  [moto, lb] = await Promise.all([startMoto(), startLoadBalancerServer()]);
  aws = motoClients(moto.endpoint);
});

afterAll(async () => {
  await Promise.all([moto?.stop(), lb?.stop()]);
});

/** Seeds an environment with two services (web, api) on `<name>.example.test`, and serves its load balancer. */
async function seed(name: string, options: Partial<SeedOptions> = {}): Promise<SeededEnvironment> {
  const domain = options.domain === undefined ? `${name}.example.test` : options.domain;
  const env = await seedEnvironment(aws, { name, domain, services: [{ name: 'web' }, { name: 'api' }], ...options });
  if (domain) lb.addSite({ domain });
  return env;
}

const run = (name: string, options?: RunOptions) => runValidate(moto.endpoint, lb, ['validate', name], options);

describe('a correctly built environment', () => {
  test('passes every check, one line each, and exits 0', async () => {
    await seed('good');
    const result = await run('good');
    expect(result.stderr).toBe('');
    expect(result.stdout).toMatch(/^Environment 'good' in eu-west-1 \(stack good-stack, 2 services\)\n/);
    for (const check of ['network', 'load-balancer', 'certificate', 'alarms', 'alarm-topic']) {
      expect(lineOf(result.stdout, check)).toMatch(/^✓ /);
    }
    for (const service of ['api', 'web']) {
      for (const check of ['route', 'targets', 'image', 'execution-role', 'secrets', 'stable', 'logs']) {
        expect(lineOf(result.stdout, `${service} ${check}`)).toMatch(/^✓ /);
      }
    }
    expect(result.stdout).toMatch(/\nOK: 19 passed, 0 failed, 0 asleep, 0 skipped \(\d+\.\d s\)\n$/);
    expect(result.code).toBe(0);
    console.log(result.stdout);
  });
});

/** The report's last line. */
const summaryOf = (stdout: string) => stdout.trim().split('\n').pop();

describe('each check fails, with its fix, on an environment broken the way it guards against', () => {
  test('network: a subnet missing from an AZ', async () => {
    const env = await seed('nosubnet');
    const gone = env.privateSubnetIds[1];
    const tables = await aws.ec2.send(new DescribeRouteTablesCommand({ Filters: [{ Name: 'association.subnet-id', Values: [gone] }] }));
    const association = tables.RouteTables![0].Associations!.find((a) => a.SubnetId === gone)!;
    await aws.ec2.send(new DisassociateRouteTableCommand({ AssociationId: association.RouteTableAssociationId }));
    await aws.ec2.send(new DeleteSubnetCommand({ SubnetId: gone }));

    const result = await run('nosubnet');
    expect(lineOf(result.stdout, 'network')).toBe(`✗ network: service subnet ${gone} (/nosubnet/_environment/service-subnet-ids) does not exist; `
      + 'the services\' subnets span 1 AZ (eu-west-1a), 2 needed');
    expect(fixOf(result.stdout, 'network')).toBe(`redeploy the environment (npx cdk deploy nosubnet-stack), or see VPC console > Your VPCs > ${env.vpcId} > Resource map`);
    expect(summaryOf(result.stdout)).toMatch(/^FAILED: 18 passed, 1 failed, 0 asleep, 0 skipped/);
    expect(result.code).toBe(1);
  });

  test('network: an imported VPC whose service subnets leave through a transit gateway passes, naming it; one without a default route fails with the owner\'s fix', async () => {
    const env = await seed('imported', { vpcImported: true });
    const tgw = (await aws.ec2.send(new CreateTransitGatewayCommand({}))).TransitGateway!.TransitGatewayId!;
    for (const subnet of env.privateSubnetIds) {
      const table = (await aws.ec2.send(new DescribeRouteTablesCommand({ Filters: [{ Name: 'association.subnet-id', Values: [subnet] }] }))).RouteTables![0];
      await aws.ec2.send(new ReplaceRouteCommand({ RouteTableId: table.RouteTableId, DestinationCidrBlock: '0.0.0.0/0', TransitGatewayId: tgw }));
    }
    const result = await run('imported');
    expect(lineOf(result.stdout, 'network')).toMatch(new RegExp(`^✓ network: .*egress through transit gateway ${tgw}$`));

    const bare = await seed('importedbare', { vpcImported: true });
    for (const subnet of bare.privateSubnetIds) {
      const table = (await aws.ec2.send(new DescribeRouteTablesCommand({ Filters: [{ Name: 'association.subnet-id', Values: [subnet] }] }))).RouteTables![0];
      await aws.ec2.send(new DeleteRouteCommand({ RouteTableId: table.RouteTableId, DestinationCidrBlock: '0.0.0.0/0' }));
    }
    const failed = await run('importedbare');
    expect(lineOf(failed.stdout, 'network')).toMatch(/^✗ network: service subnet \S+ \(eu-west-1a\) has no default route to a NAT/);
    expect(fixOf(failed.stdout, 'network')).toMatch(/^the VPC is imported: its owner adds a default route \(0\.0\.0\.0\/0\)/);
  });

  test('targets: a target unhealthy (moto reports every registered target healthy: a recorded answer)', async () => {
    const env = await seed('unhealthy');
    // DescribeTargetHealth as AWS answers it for a target failing its health check
    // (https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_DescribeTargetHealth.html).
    const unhealthy = (input: { TargetGroupArn: string }) => (input.TargetGroupArn !== env.services.web.targetGroupArn ? undefined : {
      TargetHealthDescriptions: [
        { Target: { Id: '10.0.2.10', Port: 8080, AvailabilityZone: 'eu-west-1a' }, HealthCheckPort: '8080', TargetHealth: { State: 'healthy' } },
        {
          Target: { Id: '10.0.3.10', Port: 8080, AvailabilityZone: 'eu-west-1b' },
          HealthCheckPort: '8080',
          TargetHealth: { State: 'unhealthy', Reason: 'Target.ResponseCodeMismatch', Description: 'Health checks failed with these codes: [503]' },
        },
      ],
    });
    const result = await run('unhealthy', { answers: { 'elasticloadbalancing:DescribeTargetHealth': unhealthy } });
    expect(lineOf(result.stdout, 'web targets')).toBe('✗ web targets: 1 of 2 targets not healthy: 10.0.3.10:8080 unhealthy (Target.ResponseCodeMismatch: Health checks failed with these codes: [503])');
    expect(fixOf(result.stdout, 'web targets')).toBe('EC2 console > Target groups > unhealthy-web > Targets; aws logs tail unhealthy-web-logs --since 15m --region eu-west-1; health check: /health on port traffic-port');
    expect(lineOf(result.stdout, 'api targets')).toMatch(/^✓ /);
    expect(result.code).toBe(1);
  });

  test('image: the image the task definition names is missing from its repository', async () => {
    const env = await seed('noimage');
    await aws.ecr.send(new BatchDeleteImageCommand({ repositoryName: env.services.web.repositoryName, imageIds: [{ imageTag: 'v1' }] }));
    const result = await run('noimage');
    expect(lineOf(result.stdout, 'web image')).toBe(`✗ web image: ${env.services.web.imageUri} is not in ECR (ImageNotFoundException): new tasks cannot start`);
    expect(fixOf(result.stdout, 'web image')).toBe('push the image, or deliver one that exists: aws ecr describe-images --repository-name noimage-web --region eu-west-1');
    expect(summaryOf(result.stdout)).toMatch(/^FAILED: 18 passed, 1 failed/);
  });

  test('image: the task definition runs another image than image-uri names', async () => {
    const env = await seed('stale');
    const newer = env.services.api.imageUri.replace(/:v1$/, ':v2');
    await aws.ssm.send(new PutParameterCommand({ Name: env.services.api.imageParameterName, Value: newer, Type: 'String', Overwrite: true }));
    const result = await run('stale');
    expect(lineOf(result.stdout, 'api image')).toBe(`✗ api image: task definition stale-api:1 runs ${env.services.api.imageUri}, but /stale/api/image-uri names ${newer}: the last delivery did not reach the service`);
    expect(fixOf(result.stdout, 'api image')).toMatch(/^run the service's deploy workflow again/);
  });

  test('secrets: a secret deleted, another scheduled for deletion', async () => {
    const env = await seed('nosecret');
    await aws.secretsManager.send(new DeleteSecretCommand({ SecretId: env.services.web.secretArn, ForceDeleteWithoutRecovery: true }));
    await aws.secretsManager.send(new DeleteSecretCommand({ SecretId: env.services.api.secretArn, RecoveryWindowInDays: 7 }));
    const result = await run('nosecret');
    expect(lineOf(result.stdout, 'web secrets')).toBe(`✗ web secrets: DB_PASSWORD: secret ${env.services.web.secretArn} does not exist`);
    expect(fixOf(result.stdout, 'web secrets')).toBe('recreate the secret, or redeploy the environment (npx cdk deploy nosecret-stack) if the stack created it');
    expect(lineOf(result.stdout, 'api secrets')).toBe('✗ api secrets: DB_PASSWORD: secret nosecret/api/db is scheduled for deletion');
    expect(fixOf(result.stdout, 'api secrets')).toBe('aws secretsmanager restore-secret --secret-id nosecret/api/db --region eu-west-1');
  });

  test('secrets and execution role: the execution role may not read a secret, nor write its logs (IAM\'s simulator: recorded answers)', async () => {
    const env = await seed('denied');
    const role = env.services.web.executionRoleArn;
    const answers = {
      'iam:SimulatePrincipalPolicy': simulator((action, _resource, r) => r === role && ['secretsmanager:GetSecretValue', 'logs:PutLogEvents'].includes(action)),
    };
    const result = await run('denied', { answers });
    expect(lineOf(result.stdout, 'web secrets')).toBe(`✗ web secrets: DB_PASSWORD: execution role may not secretsmanager:GetSecretValue on ${env.services.web.secretArn} (implicitDeny)`);
    expect(lineOf(result.stdout, 'web execution-role')).toBe('✗ web execution-role: execution role denied-web-execution may not logs:PutLogEvents on '
      + 'arn:aws:logs:eu-west-1:123456789012:log-group:denied-web-logs:log-stream:* (implicitDeny)');
    expect(fixOf(result.stdout, 'web execution-role')).toMatch(/^the stack manages this role's policy: redeploy \(npx cdk deploy denied-stack\)/);
    expect(lineOf(result.stdout, 'api execution-role')).toMatch(/^✓ /);
  });

  test('stable: the last deployment rolled back (moto lacks ListServiceDeployments: recorded answers)', async () => {
    await seed('rollback');
    const result = await run('rollback', { answers: { 'ecs:ListServiceDeployments': deployments((service) => service === 'rollback-web') } });
    expect(lineOf(result.stdout, 'web stable')).toMatch(/^✗ web stable: deployment r0llback0000001 of \S+ rolled back \(ROLLBACK_SUCCESSFUL: Service deployment rolled back because the circuit breaker threshold was exceeded\.\)$/);
    expect(fixOf(result.stdout, 'web stable')).toBe('ECS console > Clusters > rollback-cluster > Services > rollback-web > Deployments and events; '
      + 'aws ecs describe-service-deployments --service-deployment-arns arn:aws:ecs:eu-west-1:123456789012:service-deployment/rollback-cluster/rollback-web/r0llback0000001 --region eu-west-1');
    expect(lineOf(result.stdout, 'api stable')).toMatch(/^✓ /);
  });

  test('stable: a rollback that a later deployment put right is no failure; every page of deployments is read', async () => {
    // GIVEN a rollback 30 minutes ago, then a successful deployment 10 minutes ago, 3 deployments a page
    await seed('recovered');
    const calls: string[] = [];
    const answer = deployments((service) => service === 'recovered-web', { putRightBy: 10, pageSize: 3 });
    const paged = await run('recovered', { answers: { 'ecs:ListServiceDeployments': (input: any) => { calls.push(`${input.service}:${input.nextToken ?? '-'}`); return answer(input); } } });
    // THEN
    expect(lineOf(paged.stdout, 'web stable')).toMatch(/^✓ web stable: \d+ of \d+ tasks running, latest deployment completed, no open rollback in 24 h, 1 rollback put right by a later deployment$/);
    expect(calls.filter((c) => c.startsWith('recovered-web:'))).toEqual(['recovered-web:-']);
    // AND a rollback on the third page (after 4 newer stopped deployments, 2 a page) is found
    const later: string[] = [];
    const paging = deployments((service) => service === 'recovered-web', { newerStopped: 4, pageSize: 2 });
    const third = await run('recovered', { answers: { 'ecs:ListServiceDeployments': (input: any) => { later.push(`${input.service}:${input.nextToken ?? '-'}`); return paging(input); } } });
    expect(lineOf(third.stdout, 'web stable')).toMatch(/^✗ web stable: deployment r0llback0000001 of \S+ rolled back/);
    expect(later.filter((c) => c.startsWith('recovered-web:'))).toEqual(['recovered-web:-', 'recovered-web:2', 'recovered-web:4']);
  });

  test('stable: a deployment still under way, fewer tasks running than desired', async () => {
    // moto runs 2 tasks of every service (startMoto): a service that wants 3 never completes its deployment.
    await seed('rollout', { services: [{ name: 'web', desiredCount: 3 }] });
    const result = await run('rollout');
    expect(lineOf(result.stdout, 'web stable')).toMatch(/^✗ web stable: the latest deployment is IN_PROGRESS \(ECS deployment \S+ in progress\.\); 2 of 3 tasks running$/);
    expect(fixOf(result.stdout, 'web stable')).toMatch(/; wait for it: aws ecs wait services-stable --cluster rollout-cluster --services rollout-web --region eu-west-1$/);
  });

  test('stable: running ≠ desired within 15 minutes after the working hours\' start or end is scaling on schedule, not a failure', async () => {
    const workingHours = { startMinutes: 8 * 60, endMinutes: 18 * 60, days: ['MON', 'TUE', 'WED', 'THU', 'FRI'], timeZone: 'UTC' };
    await seed('edges', { services: [{ name: 'web', workingHours }] });
    // DescribeServices as ECS answers while Application Auto Scaling changes the desired count
    // (https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_DescribeServices.html): the deployment stays COMPLETED.
    const scaling = (desiredCount: number, runningCount: number) => (input: { services: string[] }) => ({
      services: [{
        serviceName: input.services[0],
        status: 'ACTIVE',
        desiredCount,
        runningCount,
        taskDefinition: 'edges-web:1',
        deployments: [{ id: 'ecs-svc/1', status: 'PRIMARY', rolloutState: 'COMPLETED', desiredCount, runningCount, createdAt: new Date(Date.UTC(2026, 11, 1)) }],
      }],
      failures: [],
    });
    // Wednesday 2 December 2026, 08:05 UTC: woken, tasks starting.
    const start = await run('edges', { now: new Date(Date.UTC(2026, 11, 2, 8, 5)), answers: { 'ecs:DescribeServices': scaling(2, 0) } });
    expect(lineOf(start.stdout, 'web stable')).toBe('skipped web stable: scaling on schedule: 0 of 2 tasks running, within 15 min of the working hours\' start 08:00 (UTC)');
    // 18:05 UTC: put to sleep, tasks draining.
    const end = await run('edges', { now: new Date(Date.UTC(2026, 11, 2, 18, 5)), answers: { 'ecs:DescribeServices': scaling(0, 2) } });
    expect(lineOf(end.stdout, 'web stable')).toBe('skipped web stable: scaling on schedule: 2 of 0 tasks running, within 15 min of the working hours\' end 18:00 (UTC)');
    // 18:20 UTC: past the edge, still draining: a failure.
    const late = await run('edges', { now: new Date(Date.UTC(2026, 11, 2, 18, 20)), answers: { 'ecs:DescribeServices': scaling(0, 2) } });
    expect(lineOf(late.stdout, 'web stable')).toBe('✗ web stable: 2 of 0 tasks running');
  });

  test('logs: a log group with no events since the deployment', async () => {
    await seed('nologs', { services: [{ name: 'web', logEvents: false }, { name: 'api' }] });
    const result = await run('nologs');
    expect(lineOf(result.stdout, 'web logs')).toMatch(/^✗ web logs: no event in nologs-web-logs since the latest deployment started \(\S+\)$/);
    expect(fixOf(result.stdout, 'web logs')).toBe('aws logs tail nologs-web-logs --since 1d --region eu-west-1; the app must log to stdout/stderr, and the execution role write to the log group');
    expect(lineOf(result.stdout, 'api logs')).toMatch(/^✓ /);
  });

  test('logs: an empty page of FilterLogEvents with a token is not silence (recorded answers, as CloudWatch Logs gives them)', async () => {
    await seed('pagedlogs');
    const pages: string[] = [];
    // The first page empty with a nextToken, the second with the event.
    const paged = (input: { logGroupName: string; nextToken?: string }) => {
      if (input.logGroupName !== 'pagedlogs-web-logs') return undefined;
      pages.push(input.nextToken ?? 'first');
      return input.nextToken
        ? { events: [{ logStreamName: 'web/app/0123', timestamp: Date.now(), message: 'listening on 8080', eventId: '1' }], searchedLogStreams: [] }
        : { events: [], searchedLogStreams: [], nextToken: 'page-2' };
    };
    const result = await run('pagedlogs', { answers: { 'logs:FilterLogEvents': paged } });
    expect(lineOf(result.stdout, 'web logs')).toMatch(/^✓ web logs: events in pagedlogs-web-logs since the latest deployment started/);
    expect(pages).toEqual(['first', 'page-2']);
  });

  test('alarms: an alarm in ALARM; alarm-topic: nobody subscribed', async () => {
    const env = await seed('alarming');
    await aws.cloudwatch.send(new SetAlarmStateCommand({ AlarmName: env.services.web.alarmName, StateValue: 'ALARM', StateReason: 'Threshold Crossed: 1 datapoint [12.0] was >= 5.0' }));
    await aws.sns.send(new UnsubscribeCommand({ SubscriptionArn: env.subscriptionArn }));
    const result = await run('alarming');
    expect(lineOf(result.stdout, 'alarms')).toBe('✗ alarms: 1 of 2 alarms in ALARM: alarming-web-target-5xx (Threshold Crossed: 1 datapoint [12.0] was >= 5.0)');
    expect(fixOf(result.stdout, 'alarms')).toBe('CloudWatch console > Alarms > In alarm; aws cloudwatch describe-alarms --state-value ALARM --alarm-names alarming-web-target-5xx --region eu-west-1');
    expect(lineOf(result.stdout, 'alarm-topic')).toBe('✗ alarm-topic: the alarm topic has no confirmed subscription: nobody hears of an alarm');
    expect(fixOf(result.stdout, 'alarm-topic')).toBe(`aws sns subscribe --topic-arn ${env.topicArn} --protocol email --notification-endpoint you@example.com --region eu-west-1, or set observability.alarmEmails and redeploy`);
  });

  test('alarms: DescribeAlarms asks for the alarm topic\'s alarms only (ActionPrefix), not every alarm of the region', async () => {
    const env = await seed('prefixed');
    const inputs: Array<{ ActionPrefix?: string }> = [];
    const result = await run('prefixed', { answers: { 'cloudwatch:DescribeAlarms': (input) => { inputs.push(input); return undefined; } } });
    expect(lineOf(result.stdout, 'alarms')).toMatch(/^✓ alarms: 2 alarms, none in ALARM$/);
    expect(inputs.length).toBeGreaterThan(0);
    for (const input of inputs) expect(input.ActionPrefix).toBe(env.topicArn);
  });

  test('route: a service answering 503 on its health path', async () => {
    await seedEnvironment(aws, { name: 'down', domain: 'down.example.test', services: [{ name: 'web' }, { name: 'api' }] });
    lb.addSite({ domain: 'down.example.test', status: (host) => (host === 'api.down.example.test' ? 503 : 200) });
    const result = await run('down');
    expect(lineOf(result.stdout, 'api route')).toBe('✗ api route: GET https://api.down.example.test/health answered 503 (no healthy target: see targets)');
    expect(fixOf(result.stdout, 'api route')).toBe('aws logs tail down-api-logs --since 15m --region eu-west-1');
    expect(lineOf(result.stdout, 'web route')).toBe('✓ web route: GET https://web.down.example.test/health answered 200');
    expect(lb.requests).toContain('https api.down.example.test/health');
  });

  test('route: a path-routed service whose health path is outside its patterns (README "Edge and routing") passes on any answer from the app', async () => {
    // pathPatterns ['/api/*'] with healthCheckPath '/': the app answers 200 on / only, 404 elsewhere.
    await seedEnvironment(aws, { name: 'pathed', domain: 'pathed.example.test', services: [{ name: 'api', healthCheckPath: '/', pathPatterns: ['/api/*'] }] });
    lb.addSite({ domain: 'pathed.example.test', status: (_host, p) => (p === '/' ? 200 : 404) });
    const result = await run('pathed');
    expect(lineOf(result.stdout, 'api route')).toBe('✓ api route: GET https://api.pathed.example.test/api/ answered 404: the route reaches the app '
      + '(health path / is outside the rule\'s patterns /api/*; targets checks it)');
    expect(result.code).toBe(0);
  });

  test('route: a path-routed service outside its patterns still fails on 502/503/504', async () => {
    await seedEnvironment(aws, { name: 'pathdown', domain: 'pathdown.example.test', services: [{ name: 'api', healthCheckPath: '/', pathPatterns: ['/api/*'] }] });
    lb.addSite({ domain: 'pathdown.example.test', status: () => 502 });
    const result = await run('pathdown');
    expect(lineOf(result.stdout, 'api route')).toBe('✗ api route: GET https://api.pathdown.example.test/api/ answered 502');
  });

  test('load-balancer: port 80 answers instead of redirecting to HTTPS', async () => {
    await seedEnvironment(aws, { name: 'noredirect', domain: 'noredirect.example.test', services: [{ name: 'web' }] });
    lb.addSite({ domain: 'noredirect.example.test', redirect: false });
    const result = await run('noredirect');
    expect(lineOf(result.stdout, 'load-balancer')).toBe('✗ load-balancer: http://noredirect.example.test/ answered 200, not a redirect to HTTPS');
    expect(fixOf(result.stdout, 'load-balancer')).toMatch(/^EC2 console > Load balancers > noredirect-lb > Listeners > HTTP:80: its default action should redirect to HTTPS:443/);
  });

  test('certificate: a host the certificate does not cover', async () => {
    await seedEnvironment(aws, { name: 'badcert', domain: 'badcert.example.test', services: [{ name: 'web' }] });
    lb.addSite({ domain: 'badcert.example.test', certificateNames: ['badcert.example.test'] });
    const result = await run('badcert');
    expect(lineOf(result.stdout, 'certificate')).toBe('✗ certificate: the certificate for web.badcert.example.test names DNS:badcert.example.test');
    expect(fixOf(result.stdout, 'certificate')).toBe('a host outside the hosted zone needs domain.certificate to cover it (or domain.wildcardCertificate for hosts '
      + 'one label below the domain); redeploy (npx cdk deploy badcert-stack); see ACM console > Certificates and EC2 console > Load balancers > Listeners > HTTPS:443 > Certificates');
    // The route's request fails the same way: TLS refuses the name.
    expect(lineOf(result.stdout, 'web route')).toMatch(/^✗ web route: GET https:\/\/web\.badcert\.example\.test\/health did not answer: Hostname\/IP does not match certificate's altnames/);
  });
});

describe('schedule-aware', () => {
  const hours = { startMinutes: 8 * 60, endMinutes: 20 * 60, days: ['MON', 'TUE', 'WED', 'THU', 'FRI'], timeZone: 'Europe/Berlin' };
  beforeAll(async () => {
    const env = await seed('sleepy', { services: [{ name: 'web', workingHours: hours }, { name: 'api' }] });
    // The schedule's "Asleep" action scaled it to 0 (moto sets the running count with the desired count).
    await aws.ecs.send(new UpdateServiceCommand({ cluster: env.clusterName, service: env.services.web.ecsServiceName, desiredCount: 0 }));
  });

  test('a service asleep outside its working hours is reported asleep, not failing', async () => {
    // Sunday 2026-12-06 03:00 in Berlin.
    const result = await run('sleepy', { now: new Date('2026-12-06T02:00:00Z') });
    for (const check of ['route', 'targets', 'logs']) {
      expect(lineOf(result.stdout, `web ${check}`)).toBe(`asleep web ${check}: asleep outside working hours 08:00-20:00 MON,TUE,WED,THU,FRI (Europe/Berlin)`);
    }
    expect(lineOf(result.stdout, 'web stable')).toBe('asleep web stable: asleep outside working hours 08:00-20:00 MON,TUE,WED,THU,FRI (Europe/Berlin): 0 tasks, no rollback in 24 h');
    expect(lineOf(result.stdout, 'web image')).toMatch(/^✓ /);
    expect(summaryOf(result.stdout)).toMatch(/^OK: 15 passed, 0 failed, 4 asleep, 0 skipped/);
    expect(result.code).toBe(0);
  });

  test('a service still at 0 tasks during its working hours fails, with the command that wakes it', async () => {
    // Monday 2026-12-07 10:00 in Berlin.
    const result = await run('sleepy', { now: new Date('2026-12-07T09:00:00Z') });
    expect(lineOf(result.stdout, 'web stable')).toBe('✗ web stable: 0 tasks desired during working hours 08:00-20:00 MON,TUE,WED,THU,FRI (Europe/Berlin): the schedule did not wake it');
    expect(fixOf(result.stdout, 'web stable')).toBe('aws application-autoscaling register-scalable-target --service-namespace ecs --scalable-dimension ecs:service:DesiredCount '
      + '--resource-id service/sleepy-cluster/sleepy-web --min-capacity 2 --max-capacity 2 --region eu-west-1');
    expect(lineOf(result.stdout, 'web targets')).toMatch(/^skipped web targets: 0 tasks desired during working hours .* \(see stable\)$/);
    expect(result.code).toBe(1);
  });
});

describe('a paused service (desiredCount 0)', () => {
  test('is skipped where it would need tasks, with the reason', async () => {
    await seed('paused', { services: [{ name: 'web', desiredCount: 0 }, { name: 'api' }] });
    const result = await run('paused');
    for (const check of ['route', 'targets', 'stable', 'logs']) {
      expect(lineOf(result.stdout, `web ${check}`)).toBe(`skipped web ${check}: paused on purpose (desiredCount 0)`);
    }
    expect(lineOf(result.stdout, 'web image')).toMatch(/^✓ /);
    expect(summaryOf(result.stdout)).toMatch(/^OK: 15 passed, 0 failed, 0 asleep, 4 skipped/);
    expect(result.code).toBe(0);
  });
});

describe('progress', () => {
  test('on stderr while it runs in a terminal; nothing on stderr when stderr is not one', async () => {
    const quiet = await runValidate(moto.endpoint, lb, ['validate', 'good']);
    expect(quiet.stderr).toBe('');
    let stdout = '';
    let stderr = '';
    const io = {
      stdout: { write: (t: string) => { stdout += t; } },
      stderr: { isTTY: true, write: (t: string) => { stderr += t; } },
      env: process.env,
    };
    const code = await withMotoEnvironment(moto.endpoint, () => validate(['validate', 'good'], io, hooksFor(lb)));
    expect(code).toBe(0);
    expect(stderr).toMatch(/^Finding environment 'good' in eu-west-1\.\.\.\n(\rChecking \d+\/19)+\n$/);
    expect(stderr).toContain('\rChecking 19/19\n');
    const withoutTime = (text: string) => text.replace(/\(\d+\.\d s\)\n$/, '');
    expect(withoutTime(stdout)).toBe(withoutTime(quiet.stdout));
  });
});

describe('an environment without a domain (HTTP only)', () => {
  test('requests each route over HTTP on the load balancer\'s name and skips the certificate', async () => {
    await seedEnvironment(aws, { name: 'plain', services: [{ name: 'web' }] });
    lb.addSite({});
    const result = await run('plain');
    expect(lineOf(result.stdout, 'certificate')).toBe('skipped certificate: no domain: the environment serves HTTP only');
    expect(lineOf(result.stdout, 'load-balancer')).toMatch(/^✓ load-balancer: load balancer plain-lb active, listeners 80\/HTTP \(no domain: HTTP only, no redirect to check\)$/);
    expect(lineOf(result.stdout, 'web route')).toMatch(/^✓ web route: GET http:\/\/plain-lb-\S+\/web\/health answered 200$/);
    expect(result.code).toBe(0);
  });
});

describe('--json', () => {
  test('prints the results for machines: each check with its status, walkthrough step and fix', async () => {
    const result = await runValidate(moto.endpoint, lb, ['validate', 'good', '--json']);
    const report = JSON.parse(result.stdout);
    expect(report).toMatchObject({ environment: 'good', region: 'eu-west-1', stackName: 'good-stack', services: ['api', 'web'], summary: { passed: 19, failed: 0, asleep: 0, skipped: 0 } });
    expect(report.checks).toHaveLength(19);
    expect(report.checks[0]).toEqual({ id: 'network', step: '2. Networking', status: 'pass', summary: expect.stringMatching(/^VPC vpc-/) });
    expect(report.checks.find((c: any) => c.service === 'web' && c.id === 'secrets').step).toBe('9. Parameters & secrets');
    expect(result.code).toBe(0);
  });
});

describe('bad input: one line, exit code 2, never a stack trace', () => {
  const expectOneLine = (result: { code: number; stdout: string; stderr: string }, message: string | RegExp) => {
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(result.stderr.trimEnd()).toMatch(message);
    expect(result.stderr).not.toMatch(/\n\s+at /);
  };

  test('an unknown environment', async () => {
    expectOneLine(await run('nope'), /^cdk-ecs-staging validate: no environment 'nope' in eu-west-1: no parameters under \/nope\/_environment\/ \(deployed with cdk-ecs-staging >= \S+\? check the name and --region\)$/);
  });

  test('a region without it', async () => {
    expectOneLine(await runValidate(moto.endpoint, lb, ['validate', 'good', '--region', 'us-west-2']),
      /^cdk-ecs-staging validate: no environment 'good' in us-west-2: no parameters under \/good\/_environment\//);
  });

  test('no credentials', async () => {
    expectOneLine(await run('good', {
      env: {
        AWS_ACCESS_KEY_ID: undefined,
        AWS_SECRET_ACCESS_KEY: undefined,
        AWS_SHARED_CREDENTIALS_FILE: '/nonexistent/credentials',
        AWS_CONFIG_FILE: '/nonexistent/config',
        AWS_CONTAINER_CREDENTIALS_RELATIVE_URI: undefined,
        AWS_CONTAINER_CREDENTIALS_FULL_URI: undefined,
        AWS_WEB_IDENTITY_TOKEN_FILE: undefined,
      },
    }), /^cdk-ecs-staging validate: no AWS credentials: .* \(set AWS_PROFILE or pass --profile, or run aws sso login/);
  });

  test('expired credentials (an endpoint that answers as AWS does to an expired token)', async () => {
    // SSM's answer to a request signed with an expired session token: HTTP 400, awsJson1_1 error ExpiredTokenException
    // (https://docs.aws.amazon.com/systems-manager/latest/APIReference/CommonErrors.html).
    const server = http.createServer((_req, res) => {
      res.writeHead(400, { 'Content-Type': 'application/x-amz-json-1.1', 'x-amzn-RequestId': 'a1b2c3' });
      res.end(JSON.stringify({ __type: 'com.amazon.coral.service#ExpiredTokenException', message: 'The security token included in the request is expired' }));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    try {
      const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      expectOneLine(await runValidate(endpoint, lb, ['validate', 'good'], { env: { AWS_SESSION_TOKEN: 'expired' } }),
        /^cdk-ecs-staging validate: the AWS credentials have expired: refresh them \(aws sso login/);
    } finally {
      server.close();
    }
  });

  test('credentials expiring mid-run: the run stops with one line, not a ✗ per check', async () => {
    await seed('midrun');
    // ECR's answer once the session token has expired (https://docs.aws.amazon.com/AmazonECR/latest/APIReference/CommonErrors.html).
    const expired = () => {
      const error = new Error('The security token included in the request is expired');
      error.name = 'ExpiredTokenException';
      throw error;
    };
    expectOneLine(await run('midrun', { answers: { 'ecr:DescribeImages': expired } }),
      /^cdk-ecs-staging validate: the AWS credentials have expired: refresh them \(aws sso login/);
  });

  test('a stack that is not an environment of this library', async () => {
    await aws.ssm.send(new PutParameterCommand({ Name: '/other/_environment/manifest', Value: '{"owner":"someone else"}', Type: 'String' }));
    expectOneLine(await run('other'), 'cdk-ecs-staging validate: /other/_environment/manifest holds no cdk-ecs-staging manifest: this is not an environment of cdk-ecs-staging');
    await aws.ssm.send(new PutParameterCommand({ Name: '/later/_environment/manifest', Value: '{"schema":99}', Type: 'String' }));
    expectOneLine(await run('later'), /^cdk-ecs-staging validate: \/later\/_environment\/manifest has schema 99, which this release of cdk-ecs-staging does not read/);
  });

  test('published parameters whose stack is gone', async () => {
    await aws.ssm.send(new PutParameterCommand({ Name: '/orphan/_environment/manifest', Value: '{"schema":1}', Type: 'String' }));
    await aws.ssm.send(new PutParameterCommand({ Name: '/orphan/_environment/stack-name', Value: 'orphan-stack', Type: 'String' }));
    expectOneLine(await run('orphan'), 'cdk-ecs-staging validate: stack orphan-stack, named by /orphan/_environment/stack-name, does not exist: '
      + 'the environment was deleted and its parameters left behind, or they were written by hand');
  });

  test('a stack that is not settled (CloudFormation\'s answer while an update runs: a recorded answer, moto\'s stacks settle at once)', async () => {
    // DescribeStacks during an update (https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_DescribeStacks.html).
    const updating = (input: { StackName: string }) => ({
      Stacks: [{ StackName: input.StackName, StackId: `arn:aws:cloudformation:eu-west-1:123456789012:stack/${input.StackName}/1`, StackStatus: 'UPDATE_IN_PROGRESS', CreationTime: new Date() }],
    });
    await seed('settling');
    expectOneLine(await run('settling', { answers: { 'cloudformation:DescribeStacks': updating } }),
      'cdk-ecs-staging validate: stack settling-stack of environment \'settling\' is UPDATE_IN_PROGRESS: validate reads a deployed environment; '
      + 'wait for the stack to settle, or see why in the CloudFormation console (aws cloudformation describe-stack-events --stack-name settling-stack --region eu-west-1)');
  });

  test('bad arguments', async () => {
    expectOneLine(await runValidate(moto.endpoint, lb, ['validate']), 'cdk-ecs-staging validate: name the environment: npx cdk-ecs-staging validate <environment> (see --help)');
    expectOneLine(await runValidate(moto.endpoint, lb, ['validate', 'good', '--frobnicate']), "cdk-ecs-staging validate: unknown option '--frobnicate' (see --help)");
    expectOneLine(await runValidate(moto.endpoint, lb, ['validate', 'Bad_Name']), /is not an environment name/);
    expectOneLine(await runValidate(moto.endpoint, lb, ['check', 'good']), /^cdk-ecs-staging validate: unknown command 'check'/);
  });
});

describe('read-only', () => {
  test('every call validate made, in every test above, is a read', () => {
    expect(CALLED.size).toBeGreaterThan(0);
    for (const action of CALLED) {
      // Describe/List/Get/Simulate read by name; logs:FilterLogEvents reads a log group's events.
      expect(action).toMatch(/^[a-z0-9-]+:(Describe|List|Get|Simulate|Head|BatchGet|FilterLogEvents$)/);
    }
  });

  test('the README\'s minimal IAM policy is exactly the actions validate called', () => {
    const readme = fs.readFileSync(path.join(__dirname, '..', 'README.md'), 'utf8');
    const section = readme.slice(readme.indexOf('## Validate a deployed environment')).slice(readme.slice(readme.indexOf('## Validate a deployed environment')).indexOf('### Minimal IAM policy'));
    expect(readme).toContain('## Validate a deployed environment');
    const policy = JSON.parse(/```json\n([\s\S]*?)\n```/.exec(section)![1]);
    expect(policy.Statement).toHaveLength(1);
    expect(policy.Statement[0].Action).toEqual([...CALLED].sort());
  });
});
