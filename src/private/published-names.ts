/**
 * The names of what an environment publishes (src/private/published.ts), without the AWS CDK: the
 * `cdk-ecs-staging validate` command (src/cli/) reads them too, and is bundled without aws-cdk-lib.
 */

export const PUBLISHED_SCHEMA_VERSION = 1;

/** The segment under `/<environmentName>/` that holds the environment's own published values. */
export const ENVIRONMENT_SEGMENT = '_environment';

/** Keys of the environment's published values, each one parameter. */
export type EnvironmentKey =
  | 'stack-name'
  | 'cluster-name'
  | 'vpc-id'
  | 'service-subnet-ids'
  | 'assign-public-ip'
  | 'listener-arn'
  | 'services-security-group-id'
  | 'load-balancer-arn'
  | 'alarm-topic-arn'
  | 'services'
  | 'manifest';

/** The name of one of the environment's published values: `/<environmentName>/_environment/<key>`. */
export function environmentParameterName(environmentName: string, key: EnvironmentKey): string {
  return `/${environmentName}/${ENVIRONMENT_SEGMENT}/${key}`;
}

/** The name of a service's published facts: `/<environmentName>/<service>/service-manifest`. */
export function serviceManifestParameterName(environmentName: string, serviceName: string): string {
  return `/${environmentName}/${serviceName}/service-manifest`;
}

/** A service's facts for `validate`, as the environment has them (tokens allowed). */
export interface ServiceManifest {
  readonly serviceName: string;
  /** The ECS service's name. */
  readonly ecsServiceName: string;
  readonly clusterName: string;
  /** The repository the service's images come from. */
  readonly repositoryName: string;
  /** The image-uri parameter the delivery writes, or null when the image is given in code. */
  readonly imageParameterName: string | null;
  readonly logGroupName: string;
  readonly executionRoleArn: string;
  readonly taskRoleArn: string;
  readonly targetGroupArn: string;
  /** Paused on purpose (desiredCount 0). */
  readonly paused: boolean;
  /** When the service runs, or null when it runs around the clock. */
  readonly workingHours: { startMinutes: number; endMinutes: number; days: string[]; timeZone: string } | null;
  /** The command that wakes it outside working hours, or null. */
  readonly wakeCommand: string | null;
}

