import { createHash } from 'crypto';
import { CfnResource, Fn, Lazy, Stack } from 'aws-cdk-lib';
import * as ecs from 'aws-cdk-lib/aws-ecs';

/** The docker label of the app container that ties each revision to the service's configuration. */
export const SERVICE_CONFIG_LABEL = 'dev.cdk-ecs-staging.service-config';

/**
 * What the service's configuration refers to by value: a replaced security group, subnet, target
 * group or cluster changes the service's properties without changing their text in the template.
 */
export interface ServiceReferences {
  /** The cluster's name. */
  readonly clusterName: string;
  /** The security groups the tasks join. */
  readonly securityGroupIds: string[];
  /** The subnets the tasks run in. */
  readonly subnetIds: string[];
  /** The target group the service registers its tasks with. */
  readonly targetGroupArn: string;
}

/**
 * Makes every CloudFormation update of the service register a new task definition revision.
 *
 * The service names the ARN of the revision CloudFormation registered, never the family, so that a
 * rollback re-applies the previous revision: a family resolves to its latest ACTIVE revision ("If a
 * revision isn't specified, the latest ACTIVE revision is used", ECS API reference, UpdateService
 * `taskDefinition`: https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_UpdateService.html),
 * and the failing revision of a failed update stays ACTIVE until the update's cleanup, so a rollback
 * to the family would deploy it again.
 *
 * CloudFormation's update of a service sends every property of the template, the task definition
 * included, even when only another property changed
 * (https://github.com/aws-cloudformation/cloudformation-coverage-roadmap/issues/1529). Were the
 * service to change alone, it would be put back on the revision CloudFormation registered last,
 * undoing the pipeline's deploy. So the app container carries a label that holds a digest of the
 * service's rendered properties (tags, counts, alarms, network) and the values of what those
 * properties refer to: any change of the service is also a change of the task definition, whose new
 * revision reads the image from the image-uri parameter, the pipeline's image.
 *
 * @see https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/dynamic-references-ssm.html
 */
export function bindRevisionToService(container: ecs.ContainerDefinition, service: ecs.FargateService, refs: ServiceReferences): void {
  const cfnService = service.node.defaultChild as CfnResource;
  const digest = Lazy.string({ produce: () => serviceDigest(cfnService) });
  const values = [refs.clusterName, ...refs.securityGroupIds, ...refs.subnetIds, refs.targetGroupArn];
  container.addDockerLabel(SERVICE_CONFIG_LABEL, Fn.join(' ', [digest, ...values]));
}

/** A digest of the service's properties as CloudFormation receives them, without its task definition. */
function serviceDigest(cfnService: CfnResource): string {
  type Rendered = { Resources: Record<string, { Properties?: Record<string, unknown> }> };
  const render = (cfnService as unknown as { _toCloudFormation?: () => Rendered })._toCloudFormation;
  if (typeof render !== 'function') {
    // aws-cdk-lib has rendered resources with this method since 2.0; the compatibility tests run the newest release.
    throw new Error('[cdk-ecs-staging] aws-cdk-lib no longer renders a CfnResource with _toCloudFormation(); this release of cdk-ecs-staging does not support this aws-cdk-lib');
  }
  const rendered = Stack.of(cfnService).resolve(render.call(cfnService));
  const [resource] = Object.values(rendered.Resources) as Array<{ Properties?: Record<string, unknown> }>;
  const { TaskDefinition: _, ...properties } = resource.Properties ?? {};
  return createHash('sha256').update(canonicalJson(properties)).digest('hex').slice(0, 32);
}

/** JSON with object keys in order, so that a digest does not depend on the order properties were set in. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) {
    return `[${value.map(canonicalJson).join(',')}]`;
  }
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}
