import { App, Stack, Tags } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { EcsStagingEnvironment, StagingServiceOptions } from '../src';
import { TEST_ENV, testApp } from './harness/apps';

/**
 * Who owns the running image: the pipeline writes the image-uri parameter and registers a task
 * definition revision with its image; CloudFormation must never roll that back. Each case
 * synthesizes the service before and after a change and reads what CloudFormation would do.
 */
function synth(options: StagingServiceOptions = {}, tag?: string) {
  const app: App = testApp();
  if (tag) Tags.of(app).add('team', tag);
  const stack = new Stack(app, 'Handoff', { env: TEST_ENV });
  const web = new EcsStagingEnvironment(stack, 'Staging').addService('web', options);
  // The template as CloudFormation receives it.
  const body = Template.fromStack(Stack.of(web)).toJSON();
  const one = (type: string) => {
    const entries = Object.entries(body.Resources as Record<string, any>).filter(([, r]) => r.Type === type);
    expect(entries).toHaveLength(1);
    return { id: entries[0][0], ...entries[0][1] };
  };
  return { service: one('AWS::ECS::Service'), taskDefinition: one('AWS::ECS::TaskDefinition'), parameter: one('AWS::SSM::Parameter') };
}

describe('the handoff between CloudFormation and the pipeline', () => {
  const before = synth({ desiredCount: 2 });

  test('runs the latest revision of the task definition\'s family, and rolls out every revision CloudFormation registers', () => {
    // The family, not a revision: ECS runs the latest revision, the pipeline's until CloudFormation registers a newer one.
    expect(before.service.Properties.TaskDefinition).toBe(before.taskDefinition.Properties.Family);
    expect(before.service.DependsOn).toContain(before.taskDefinition.id);
    // A new revision of CloudFormation's changes the nonce, which starts a deployment.
    expect(before.service.Properties.ForceNewDeployment).toEqual({
      EnableForceNewDeployment: true,
      ForceNewDeploymentNonce: { Ref: before.taskDefinition.id },
    });
    // The image of every revision CloudFormation registers is what the parameter holds: the pipeline's image once it wrote it.
    expect(before.taskDefinition.Properties.ContainerDefinitions[0].Image).toEqual({ 'Fn::Join': ['', ['{{resolve:ssm:', { Ref: before.parameter.id }, '}}']] });
  });

  test('(a) a deploy without change changes nothing', () => {
    expect(synth({ desiredCount: 2 })).toEqual(before);
  });

  test('(b) a change of the service alone leaves the task definition, so no revision of CloudFormation\'s replaces the pipeline\'s', () => {
    const after = synth({ desiredCount: 3 });
    expect(after.service.Properties.DesiredCount).toBe(3);
    expect(after.taskDefinition).toEqual(before.taskDefinition);
    // The service update names the family and the same nonce: ECS keeps the latest revision, the pipeline's.
    expect(after.service.Properties.TaskDefinition).toBe(before.service.Properties.TaskDefinition);
    expect(after.service.Properties.ForceNewDeployment).toEqual(before.service.Properties.ForceNewDeployment);
  });

  test('(c) a change of the task definition registers a revision whose image is the parameter\'s, the pipeline\'s', () => {
    const after = synth({ desiredCount: 2, cpu: 1024, memoryLimitMiB: 2048 });
    expect(after.taskDefinition.Properties.Cpu).toBe('1024');
    expect(after.taskDefinition.Properties.ContainerDefinitions[0].Image).toEqual(before.taskDefinition.Properties.ContainerDefinitions[0].Image);
    // The parameter itself is untouched, so it keeps the value the pipeline wrote.
    expect(after.parameter).toEqual(before.parameter);
  });

  test('(d) an app-level tag tags the parameter without rewriting its value', () => {
    const after = synth({ desiredCount: 2 }, 'payments');
    // Tags are updated by tagging (the SSM resource provider writes the value only when Type,
    // Value, Description, Tier, DataType or AllowedPattern change); the rest is as before.
    const { Tags: tagsAfter, ...restAfter } = after.parameter.Properties;
    const { Tags: _, ...restBefore } = before.parameter.Properties;
    expect(restAfter).toEqual(restBefore);
    expect(tagsAfter).toEqual(expect.objectContaining({ team: 'payments' }));
    // A revision registered for the tag still reads the image from the parameter.
    expect(after.taskDefinition.Properties.ContainerDefinitions[0].Image).toEqual(before.taskDefinition.Properties.ContainerDefinitions[0].Image);
  });

  test('the first deploy of a fresh environment runs the placeholder', () => {
    expect(before.parameter.Properties.Value).toBe('ghcr.io/static-web-server/static-web-server:2.44.0-alpine');
  });
});
