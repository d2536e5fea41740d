/**
 * Scenario: delivery (walkthrough step 13). One environment, service 'web' delivered by CodePipeline
 * V2 through a CodeConnections connection (the ARN below is a placeholder: pass a connection you
 * authorized with -c connectionArn=...), service 'api' by GitHub Actions over OIDC.
 *
 * The assertions ask, after deployment, that the pipeline exists queued and that the GitHub deploy
 * role exists with its trust.
 *
 * The account's GitHub OIDC provider: an account holds one per URL, and a stack that creates it
 * keeps it when destroyed (DeletionPolicy RetainExceptOnCreate), so a second run could not create
 * it again. The test therefore imports it by the ARN it has in every account,
 * arn:<partition>:iam::<account>:oidc-provider/token.actions.githubusercontent.com. In an account
 * that has none yet, run once with -c createGithubOidcProvider=true: the stack creates it, and it
 * stays for the runs after.
 */
import { ExpectedResult, IntegTest, Match } from '@aws-cdk/integ-tests-alpha';
import { App, Aws, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import { EcsStagingEnvironment, StagingPipelineSource } from '../src';

const app = new App();
const connectionArn: string = app.node.tryGetContext('connectionArn')
  ?? 'arn:aws:codeconnections:us-east-1:123456789012:connection/0a1b2c3d-0000-1111-2222-333344445555';
const stack = new Stack(app, 'StagingPipelineInteg', { env: { region: 'us-east-1' } });
const env = new EcsStagingEnvironment(stack, 'Staging', { environmentName: 'delivery', ephemeral: true });
const web = env.addService('web', { desiredCount: 2 });
const pipeline = web.addPipeline({ source: StagingPipelineSource.connection({ connectionArn, owner: 'acme', repo: 'web' }), manualApproval: true });
const createOidcProvider = String(app.node.tryGetContext('createGithubOidcProvider') ?? 'false') === 'true';
const oidcProvider = createOidcProvider ? undefined : iam.OidcProviderNative.fromOidcProviderArn(stack, 'GitHubOidcProvider',
  `arn:${Aws.PARTITION}:iam::${Aws.ACCOUNT_ID}:oidc-provider/token.actions.githubusercontent.com`);
const api = env.addService('api', { pathPatterns: ['/api/*'] });
const deploy = api.addGithubActionsDeployRole({ repository: 'acme/api', githubEnvironment: 'staging', oidcProvider });

const assertionStack = new Stack(app, 'StagingPipelineAssertions', { env: { region: 'us-east-1' } });
const integ = new IntegTest(app, 'StagingPipelineTest', {
  testCases: [stack],
  assertionStack,
  allowDestroy: ['AWS::ECS::TaskDefinition'],
  stackUpdateWorkflow: false,
});
integ.assertions
  .awsApiCall('CodePipeline', 'getPipeline', { name: pipeline.pipeline.pipelineName })
  .expect(ExpectedResult.objectLike({ pipeline: Match.objectLike({ pipelineType: 'V2', executionMode: 'QUEUED' }) }));
integ.assertions
  .awsApiCall('IAM', 'getRole', { RoleName: deploy.role.roleName })
  .expect(ExpectedResult.objectLike({ Role: Match.objectLike({ RoleName: 'delivery-api-github-deploy' }) }));

app.synth();
