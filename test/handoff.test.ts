import { App, Stack, Tags } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { EcsStagingEnvironment, StagingServiceOptions } from '../src';
import { TEST_ENV, testApp } from './harness/apps';
import { DeployModel, ServiceTemplate } from './harness/deploy-model';

/**
 * Who owns the running image. The pipeline writes the image-uri parameter and registers a task
 * definition revision with its image; CloudFormation must never undo that, and a failed update must
 * roll back. Each row of the README's table is pinned here: on the template where it shows there,
 * and on a model of CloudFormation and ECS (test/harness/deploy-model.ts, each rule citing its AWS
 * source) driven by the synthesized templates.
 */
function synth(options: StagingServiceOptions = {}, tag?: string): ServiceTemplate {
  const app: App = testApp();
  if (tag) Tags.of(app).add('team', tag);
  const stack = new Stack(app, 'Handoff', { env: TEST_ENV });
  const web = new EcsStagingEnvironment(stack, 'Staging').addService('web', options);
  // The template as CloudFormation receives it.
  return Template.fromStack(Stack.of(web)).toJSON() as ServiceTemplate;
}

function one(template: ServiceTemplate, type: string): { id: string; Properties: any } {
  // Beside the image parameter, each service publishes its manifest for validate: not part of the handoff.
  const entries = Object.entries(template.Resources).filter(([, r]) => r.Type === type && !String(r.Properties?.Name).endsWith('/service-manifest'));
  expect(entries).toHaveLength(1);
  return { id: entries[0][0], ...entries[0][1] } as { id: string; Properties: any };
}

const PLACEHOLDER = 'ghcr.io/static-web-server/static-web-server:2.44.0-alpine';
const APP_V1 = '123456789012.dkr.ecr.us-east-1.amazonaws.com/web:1111111';
const APP_V2 = '123456789012.dkr.ecr.us-east-1.amazonaws.com/web:2222222';

describe('the handoff between CloudFormation and the pipeline', () => {
  const base = synth({ desiredCount: 2 });
  const serviceOnly = synth({ desiredCount: 3 });
  const taskDefinitionChange = synth({ desiredCount: 2, cpu: 1024, memoryLimitMiB: 2048 });
  const tagged = synth({ desiredCount: 2 }, 'payments');
  const taskDefinitionOf = (t: ServiceTemplate) => one(t, 'AWS::ECS::TaskDefinition');
  const labelOf = (t: ServiceTemplate) => taskDefinitionOf(t).Properties.ContainerDefinitions[0].DockerLabels['dev.cdk-ecs-staging.service-config'];

  describe('on the template', () => {
    test('the service names the revision CloudFormation registered, not the family, and needs no nonce', () => {
      const service = one(base, 'AWS::ECS::Service');
      expect(service.Properties.TaskDefinition).toEqual({ Ref: taskDefinitionOf(base).id });
      expect(service.Properties.ForceNewDeployment).toBeUndefined();
      // The image of every revision CloudFormation registers is what the parameter holds: the pipeline's image once it wrote it.
      expect(taskDefinitionOf(base).Properties.ContainerDefinitions[0].Image).toEqual({
        'Fn::Join': ['', ['{{resolve:ssm:', { Ref: one(base, 'AWS::SSM::Parameter').id }, '}}']],
      });
    });

    test('the app container carries a digest of the service\'s properties and the values they refer to', () => {
      const [separator, [digest, ...values]] = labelOf(base)['Fn::Join'];
      expect(separator).toBe(' ');
      expect(digest).toMatch(/^[0-9a-f]{32}$/);
      const service = one(base, 'AWS::ECS::Service').Properties;
      // The cluster, both security groups, the subnets and the target group, as references resolved at deploy time.
      expect(values).toEqual([
        service.Cluster,
        ...service.NetworkConfiguration.AwsvpcConfiguration.SecurityGroups,
        ...service.NetworkConfiguration.AwsvpcConfiguration.Subnets,
        service.LoadBalancers[0].TargetGroupArn,
      ]);
    });

    test('a deploy without change changes nothing', () => {
      expect(synth({ desiredCount: 2 })).toEqual(base);
    });

    test('a change of the service alone also changes the task definition (only its label), so CloudFormation registers a revision', () => {
      expect(one(serviceOnly, 'AWS::ECS::Service').Properties.DesiredCount).toBe(3);
      expect(labelOf(serviceOnly)).not.toEqual(labelOf(base));
      const withoutLabel = (t: ServiceTemplate) => {
        const properties = structuredClone(taskDefinitionOf(t).Properties);
        delete properties.ContainerDefinitions[0].DockerLabels;
        return properties;
      };
      expect(withoutLabel(serviceOnly)).toEqual(withoutLabel(base));
    });

    test('an app-level tag changes the service\'s digest, and tags the parameter without rewriting its value', () => {
      expect(labelOf(tagged)).not.toEqual(labelOf(base));
      // The SSM resource provider writes the value only when Type, Value, Description, Tier, DataType
      // or AllowedPattern change; tags are updated by tagging.
      const { Tags: tagsAfter, ...restAfter } = one(tagged, 'AWS::SSM::Parameter').Properties;
      const { Tags: _, ...restBefore } = one(base, 'AWS::SSM::Parameter').Properties;
      expect(restAfter).toEqual(restBefore);
      expect(tagsAfter).toEqual(expect.objectContaining({ team: 'payments' }));
    });

    test('a change of the task definition alone leaves the digest and the parameter', () => {
      expect(taskDefinitionOf(taskDefinitionChange).Properties.Cpu).toBe('1024');
      expect(labelOf(taskDefinitionChange)).toEqual(labelOf(base));
      expect(one(taskDefinitionChange, 'AWS::SSM::Parameter')).toEqual(one(base, 'AWS::SSM::Parameter'));
    });

    test('a fresh environment starts with the placeholder', () => {
      expect(one(base, 'AWS::SSM::Parameter').Properties.Value).toBe(PLACEHOLDER);
    });
  });

  describe('on the model, row by row (README: "Which image runs")', () => {
    test('first create: the placeholder', () => {
      const model = new DeployModel();
      expect(model.create(base)).toEqual({ stackStatus: 'CREATE_COMPLETE' });
      expect(model.runningImage).toBe(PLACEHOLDER);
    });

    test('a change in code only: the image the parameter holds (the placeholder before any delivery)', () => {
      const model = new DeployModel();
      model.create(base);
      expect(model.update(serviceOnly)).toEqual({ stackStatus: 'UPDATE_COMPLETE' });
      expect(model.update(taskDefinitionChange)).toEqual({ stackStatus: 'UPDATE_COMPLETE' });
      expect(model.runningImage).toBe(PLACEHOLDER);
    });

    test('a pipeline deploy: the pushed image, and the parameter names it once its deployment completed', () => {
      const model = new DeployModel();
      model.create(base);
      expect(model.deliver(APP_V1)).toEqual({ delivered: true });
      expect(model.runningImage).toBe(APP_V1);
      expect(model.imageParameter).toBe(APP_V1);
    });

    test.each([
      ['a change of the service alone', serviceOnly],
      ['a change of the task definition', taskDefinitionChange],
      ['an app-level tag', tagged],
    ])('%s after a pipeline deploy: the pipeline\'s image', (_, next) => {
      const model = new DeployModel();
      model.create(base);
      model.deliver(APP_V1);
      expect(model.update(next)).toEqual({ stackStatus: 'UPDATE_COMPLETE' });
      expect(model.runningImage).toBe(APP_V1);
      // And back again, to be sure the round trip keeps it too.
      expect(model.update(base)).toEqual({ stackStatus: 'UPDATE_COMPLETE' });
      expect(model.runningImage).toBe(APP_V1);
    });

    test('a failed update rolls back to the revision CloudFormation registered before it', () => {
      const model = new DeployModel();
      model.create(base);
      expect(model.update(taskDefinitionChange, false)).toEqual({ stackStatus: 'UPDATE_ROLLBACK_COMPLETE' });
      expect(model.runningImage).toBe(PLACEHOLDER);
      // The next update works.
      expect(model.update(serviceOnly)).toEqual({ stackStatus: 'UPDATE_COMPLETE' });
    });

    test('a failed update after a pipeline deploy rolls back to CloudFormation\'s previous revision, older than the pipeline\'s image: re-running the delivery restores it', () => {
      // The row that cannot hold: the rollback re-applies the previous template, whose revision holds the
      // image the parameter held when CloudFormation registered it. The README says so and gives the recovery.
      const model = new DeployModel();
      model.create(base);
      model.deliver(APP_V1);
      expect(model.update(serviceOnly, false)).toEqual({ stackStatus: 'UPDATE_ROLLBACK_COMPLETE' });
      expect(model.runningImage).toBe(PLACEHOLDER);
      expect(model.imageParameter).toBe(APP_V1);
      // Recovery: deliver the same image again (a re-run of the last delivery).
      expect(model.deliver(APP_V1)).toEqual({ delivered: true });
      expect(model.runningImage).toBe(APP_V1);
      // Or any later change of the service or task definition, which reads the parameter.
      const other = new DeployModel();
      other.create(base);
      other.deliver(APP_V1);
      other.update(serviceOnly, false);
      expect(other.update(taskDefinitionChange)).toEqual({ stackStatus: 'UPDATE_COMPLETE' });
      expect(other.runningImage).toBe(APP_V1);
    });

    test('a failed pipeline deploy: the circuit breaker keeps the previous image, and the parameter is not written', () => {
      const model = new DeployModel();
      model.create(base);
      model.deliver(APP_V1);
      expect(model.deliver(APP_V2, false)).toEqual({ delivered: false });
      expect(model.runningImage).toBe(APP_V1);
      expect(model.imageParameter).toBe(APP_V1);
      // So the next revision CloudFormation registers runs the last good image, not the failed one.
      model.update(taskDefinitionChange);
      expect(model.runningImage).toBe(APP_V1);
    });

    test('control: a service that names its family cannot roll back a failed update (the model reproduces UPDATE_ROLLBACK_FAILED)', () => {
      const familyShaped = (t: ServiceTemplate): ServiceTemplate => {
        const copy = structuredClone(t);
        const service = Object.values(copy.Resources).find((r) => r.Type === 'AWS::ECS::Service')!;
        const taskDefinitionId = Object.entries(copy.Resources).find(([, r]) => r.Type === 'AWS::ECS::TaskDefinition')![0];
        service.Properties.TaskDefinition = 'family';
        service.Properties.ForceNewDeployment = { EnableForceNewDeployment: true, ForceNewDeploymentNonce: { Ref: taskDefinitionId } };
        return copy;
      };
      const model = new DeployModel();
      model.create(familyShaped(base));
      model.deliver(APP_V1);
      // A service-only change keeps the pipeline's image there...
      expect(model.update(familyShaped(serviceOnly))).toEqual({ stackStatus: 'UPDATE_COMPLETE' });
      expect(model.runningImage).toBe(APP_V1);
      // ...but a failed update's rollback redeploys the failing revision, the family's latest ACTIVE one.
      expect(model.update(familyShaped(taskDefinitionChange), false)).toEqual({ stackStatus: 'UPDATE_ROLLBACK_FAILED' });
    });

    test('control: a service that names its revision without the digest undoes the pipeline\'s deploy on a change of the service alone', () => {
      const withoutDigest = (t: ServiceTemplate): ServiceTemplate => {
        const copy = structuredClone(t);
        const taskDefinition = Object.values(copy.Resources).find((r) => r.Type === 'AWS::ECS::TaskDefinition')!;
        delete taskDefinition.Properties.ContainerDefinitions[0].DockerLabels;
        return copy;
      };
      const model = new DeployModel();
      model.create(withoutDigest(base));
      model.deliver(APP_V1);
      model.update(withoutDigest(serviceOnly));
      expect(model.runningImage).toBe(PLACEHOLDER);
    });
  });
});
