/**
 * Scenario: a whole staging environment with HTTPS and one service (walkthrough steps 3-11).
 *
 * An EcsStagingEnvironment on a domain (ACM certificate validated in the hosted zone, 80 -> 443
 * redirect, Route 53 alias) with one service, 'web', of two tasks that run the placeholder image
 * through the service's SSM image parameter (the placeholder answers 200 on every path). The
 * assertions are the checklist's lines after the network, asked of the AWS APIs and of the
 * environment's URL after deployment.
 *
 * The hosted zone below is a placeholder, enough to synthesize and compare the snapshot. To deploy
 * for real, point it at a public zone you own (and, if you like, another region), by context:
 *
 *   npx cdk deploy --all --app 'npx ts-node -P tsconfig.dev.json integ/integ.environment.ts' \
 *     -c zoneId=Z0123EXAMPLE -c zoneName=example.org -c region=eu-west-1
 *
 * then read the AssertionResults* outputs of StagingEnvironmentAssertions. integ-runner has no
 * option to pass context, so `integ-runner --force` deploys the placeholders unless they are
 * edited. The environment answers on `staging.<zoneName>`.
 */
import { ExpectedResult, FetchOptions, IntegTest, Match } from '@aws-cdk/integ-tests-alpha';
import { App, Duration, Stack } from 'aws-cdk-lib';
import * as route53 from 'aws-cdk-lib/aws-route53';
import { EcsStagingEnvironment, StagingSecret } from '../src';

/** The image the image parameter holds until a pipeline writes it (src/private/defaults.ts). */
const PLACEHOLDER_IMAGE = 'ghcr.io/static-web-server/static-web-server:2.44.0-alpine';

const app = new App();
const zoneId: string = app.node.tryGetContext('zoneId') ?? 'Z0123456789ABCDEFGHIJ';
const zoneName: string = app.node.tryGetContext('zoneName') ?? 'integ.example.com';
const domainName = `staging.${zoneName}`;

// The edge needs a region: the access-log bucket policy admits that region's load-balancer log delivery.
const region: string = app.node.tryGetContext('region') ?? 'us-east-1';
const stack = new Stack(app, 'StagingEnvironmentInteg', { env: { region } });
const hostedZone = route53.HostedZone.fromHostedZoneAttributes(stack, 'Zone', { hostedZoneId: zoneId, zoneName });
const env = new EcsStagingEnvironment(stack, 'Staging', {
  environmentName: 'integ',
  domain: { domainName, hostedZone },
  // The integ stack is torn down after the test: leave no repository, log group or bucket behind.
  ephemeral: true,
});
const web = env.addService('web', {
  desiredCount: 2,
  healthCheckPath: '/health',
  config: { LOG_LEVEL: 'info' },
  secrets: { DB_PASSWORD: StagingSecret.generate({ excludePunctuation: true }) },
});

// The assertions read the environment's resources by reference, so they live in the same environment.
const assertionStack = new Stack(app, 'StagingEnvironmentAssertions', { env: { region } });
// A task definition is replaced by a new revision on every change: that is how ECS rolls out, not a loss.
const integ = new IntegTest(app, 'StagingEnvironmentTest', {
  testCases: [stack],
  assertionStack,
  allowDestroy: ['AWS::ECS::TaskDefinition'],
  // The assertions import the task definition's ARN, which every change replaces: an update workflow
  // (deploy the old snapshot, then the new) would fail on the export in use.
  stackUpdateWorkflow: false,
});
const patiently = { totalTimeout: Duration.minutes(10), interval: Duration.seconds(30) };

// "2XX on health endpoints": the domain answers 200 over HTTPS, through the alias, the
// certificate, the listener rule and the target group.
integ.assertions
  .httpApiCall(`https://${domainName}/health`)
  .expect(ExpectedResult.objectLike({ status: 200 }))
  .waitForAssertions(patiently);

// "ALB DNS answers; listeners configured": port 80 redirects permanently to HTTPS. FetchOptions
// has no `redirect`, but the handler hands the options to node-fetch as they are: 'manual' stops
// it from following the redirect to https://<ALB DNS name>, whose certificate is the domain's.
const doNotFollow: FetchOptions & { redirect: 'manual' } = { redirect: 'manual' };
integ.assertions
  .httpApiCall(`http://${env.edge.loadBalancer.loadBalancerDnsName}/health`, doNotFollow)
  .expect(ExpectedResult.objectLike({ status: 301 }));

// "ECS service stable; deployment circuit breaker not tripping": both tasks run, and the
// circuit breaker (with rollback) is on.
integ.assertions
  .awsApiCall('ECS', 'describeServices', { cluster: env.cluster.clusterName, services: [web.fargateService.serviceName] })
  .expect(ExpectedResult.objectLike({
    services: [Match.objectLike({
      status: 'ACTIVE',
      runningCount: 2,
      desiredCount: 2,
      deploymentConfiguration: Match.objectLike({ deploymentCircuitBreaker: { enable: true, rollback: true } }),
    })],
  }))
  .waitForAssertions(patiently);

// "target group health OK". The SDK v3 package name, not 'ElasticLoadBalancingV2': from that name
// integ-tests would grant the nonexistent IAM action 'elasticloadbalancingv2:DescribeTargetHealth'.
integ.assertions
  .awsApiCall('@aws-sdk/client-elastic-load-balancing-v2', 'describeTargetHealth', { TargetGroupArn: web.targetGroup.targetGroupArn })
  .expect(ExpectedResult.objectLike({
    TargetHealthDescriptions: Match.arrayWith([Match.objectLike({ TargetHealth: Match.objectLike({ State: 'healthy' }) })]),
  }))
  .waitForAssertions(patiently);

// "ECR image present; task definition references the correct tag": the task definition runs the
// image the parameter names (the dynamic reference was resolved at deploy), and its plain
// environment reached the container definition. No image is pushed here: the repository is
// checked to exist, scan on push and immutable tags.
integ.assertions
  .awsApiCall('ECS', 'describeTaskDefinition', { taskDefinition: web.taskDefinition.taskDefinitionArn })
  .expect(ExpectedResult.objectLike({
    taskDefinition: Match.objectLike({
      // The app, then the container that opens /tmp to every user before it starts.
      containerDefinitions: Match.arrayWith([
        Match.objectLike({
          name: 'app',
          image: PLACEHOLDER_IMAGE,
          environment: Match.arrayWith([{ name: 'SERVER_PORT', value: '80' }]),
          systemControls: [{ namespace: 'net.ipv4.ip_unprivileged_port_start', value: '80' }],
          dependsOn: [{ containerName: 'writable-paths', condition: 'SUCCESS' }],
        }),
        Match.objectLike({ name: 'writable-paths', essential: false, entryPoint: ['chmod', '1777', '/tmp'] }),
      ]),
    }),
  }));
integ.assertions
  .awsApiCall('SSM', 'getParameter', { Name: web.imageParameter!.parameterName })
  .expect(ExpectedResult.objectLike({ Parameter: Match.objectLike({ Value: PLACEHOLDER_IMAGE }) }));
integ.assertions
  .awsApiCall('ECR', 'describeRepositories', { repositoryNames: [web.repository.repositoryName] })
  .expect(ExpectedResult.objectLike({
    repositories: [Match.objectLike({ imageTagMutability: 'IMMUTABLE', imageScanningConfiguration: { scanOnPush: true } })],
  }));

// "Parameters/secrets resolved in container env": the config parameter and the generated secret
// exist, the container definition names both in its secrets (none in plain environment), and the
// two tasks run (the service assertion above): a secret ECS cannot resolve stops every task at
// start with ResourceInitializationError, so no task would run.
integ.assertions
  .awsApiCall('SSM', 'getParameter', { Name: web.secrets.configParameters.LOG_LEVEL.parameterName })
  .expect(ExpectedResult.objectLike({ Parameter: Match.objectLike({ Type: 'String', Value: 'info' }) }));
integ.assertions
  .awsApiCall('ECS', 'describeTaskDefinition', { taskDefinition: web.taskDefinition.taskDefinitionArn })
  .expect(ExpectedResult.objectLike({
    taskDefinition: Match.objectLike({
      containerDefinitions: Match.arrayWith([Match.objectLike({
        name: 'app',
        secrets: Match.arrayWith([Match.objectLike({ name: 'LOG_LEVEL' }), Match.objectLike({ name: 'DB_PASSWORD' })]),
      })]),
    }),
  }));
integ.assertions
  .awsApiCall('ECS', 'listTasks', { cluster: env.cluster.clusterName, serviceName: web.fargateService.serviceName, desiredStatus: 'RUNNING' })
  .expect(ExpectedResult.objectLike({ taskArns: Match.arrayWith([Match.stringLikeRegexp('task/')]) }))
  .waitForAssertions(patiently);

// Observability: the service's alarm pack exists and is OK once the service is healthy, the
// deployment-events rule is enabled, and the dashboard exists.
integ.assertions
  .awsApiCall('CloudWatch', 'describeAlarms', { AlarmNames: web.alarms.all.map((a) => a.alarmName) })
  .expect(ExpectedResult.objectLike({ MetricAlarms: Match.arrayWith([Match.objectLike({ AlarmName: web.alarms.errors!.alarmName, StateValue: 'OK' })]) }))
  .waitForAssertions(patiently);
integ.assertions
  .awsApiCall('EventBridge', 'describeRule', { Name: env.observability.deploymentEventsRule!.ruleName })
  .expect(ExpectedResult.objectLike({ State: 'ENABLED' }));
integ.assertions
  .awsApiCall('CloudWatch', 'getDashboard', { DashboardName: env.observability.dashboard!.dashboardName })
  .expect(ExpectedResult.objectLike({ DashboardName: env.observability.dashboard!.dashboardName }));

// "Logs flowing in CloudWatch": the container's log group has received events.
integ.assertions
  .awsApiCall('CloudWatchLogs', 'filterLogEvents', { logGroupName: web.logGroup.logGroupName, limit: 1 })
  .expect(ExpectedResult.objectLike({ events: Match.arrayWith([Match.objectLike({ message: Match.stringLikeRegexp('.') })]) }))
  .waitForAssertions(patiently);

// "Task execution role has ECR + CloudWatch Logs permissions", asked of the IAM policy simulator
// on the service's own repository and log group, one action a call (so no result order is assumed).
const executionRoleNeeds: Array<[string, string]> = [
  ...['ecr:GetAuthorizationToken', 'ecr:BatchCheckLayerAvailability', 'ecr:GetDownloadUrlForLayer', 'ecr:BatchGetImage']
    .map((action): [string, string] => [action, web.repository.repositoryArn]),
  ...['logs:CreateLogStream', 'logs:PutLogEvents'].map((action): [string, string] => [action, web.logGroup.logGroupArn]),
];
for (const [action, resource] of executionRoleNeeds) {
  integ.assertions
    .awsApiCall('IAM', 'simulatePrincipalPolicy', { PolicySourceArn: web.executionRole.roleArn, ActionNames: [action], ResourceArns: [resource] })
    .expect(ExpectedResult.objectLike({ EvaluationResults: [Match.objectLike({ EvalActionName: action, EvalDecision: 'allowed' })] }));
}

app.synth();
