import { Duration } from 'aws-cdk-lib';
import type * as ecr from 'aws-cdk-lib/aws-ecr';
import { IConstruct } from 'constructs';

/**
 * What an environment that allows previews tells the constructs that deliver and reap them: the
 * settings of its `previews` prop, resolved, and the role CloudFormation uses for preview stacks.
 * The environment registers them when `previews` is set; a preview role or reaper reads them here,
 * so that neither imports the environment's class (which imports them back).
 */
export interface PreviewFacts {
  /** The most previews at once (slots 0 .. maxPreviews - 1). */
  readonly maxPreviews: number;
  /** Previews untouched for longer are deleted by the reaper. */
  readonly expireAfter: Duration;
  /** Names of the services a preview deploys; undefined: every service of the environment. */
  readonly services?: string[];
  /** ARN of the role CloudFormation creates, updates and deletes preview stacks with. */
  readonly cloudFormationRoleArn: string;
  /** The preview repository of each previewable service added so far, by service name. */
  readonly repositories: () => { [serviceName: string]: ecr.IRepository };
}

const REGISTRY = new WeakMap<IConstruct, PreviewFacts>();

/** Records the previews of `environment` (called by the environment when `previews` is set). */
export function registerPreviewFacts(environment: IConstruct, facts: PreviewFacts): void {
  REGISTRY.set(environment, facts);
}

/** The previews of `environment`, or undefined when it allows none. */
export function previewFactsOf(environment: IConstruct): PreviewFacts | undefined {
  return REGISTRY.get(environment);
}

/** The segment under `/<environmentName>/` of what the environment publishes for previews. */
export const PREVIEWS_SEGMENT = '_previews';

/** Keys of the parameters under `/<environmentName>/_previews/` that the preview workflow reads. */
export type PreviewsKey = 'settings' | 'cloudformation-role-arn' | 'log-group-name' | 'delivery-target' | 'security-group-id'
  | 'schedule-group-name' | 'scheduler-role-arn';

/** The name of a parameter the previews read: `/<environmentName>/_previews/<key>`. */
export function previewsParameterName(environmentName: string, key: PreviewsKey): string {
  return `/${environmentName}/${PREVIEWS_SEGMENT}/${key}`;
}

/** Keys of the parameters the environment publishes per previewable service, `/<environmentName>/<service>/<key>`. */
export type PreviewServiceKey = 'preview-execution-role-arn' | 'preview-task-role-arn' | 'preview-repository-uri';

/** The name of a previewable service's parameter: `/<environmentName>/<service>/<key>`. */
export function previewServiceParameterName(environmentName: string, serviceName: string, key: PreviewServiceKey): string {
  return `/${environmentName}/${serviceName}/${key}`;
}

/**
 * The names of every previewable service's parameters under `/<environmentName>/`, as an IAM
 * resource pattern: `*\/preview-*` (each `PreviewServiceKey` starts with `preview-`).
 */
export function previewServiceParametersPattern(): string {
  return '*/preview-*';
}

/** The name of the stack of pull request `pullRequest`'s preview: `<environmentName>-preview-pr-<pullRequest>`. */
export function previewStackName(environmentName: string, pullRequest: number | string): string {
  return `${previewStackPrefix(environmentName)}${pullRequest}`;
}

/** What every preview stack name of the environment starts with: `<environmentName>-preview-pr-`. */
export function previewStackPrefix(environmentName: string): string {
  return `${environmentName}-preview-pr-`;
}

/** The stack tags a preview is deployed with, read back to find its slot. */
export const PREVIEW_TAGS = {
  slot: 'cdk-ecs-staging:preview-slot',
  pullRequest: 'cdk-ecs-staging:pull-request',
  environment: 'cdk-ecs-staging:environment',
};
