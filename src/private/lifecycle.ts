import { RemovalPolicy } from 'aws-cdk-lib';

/**
 * How a stateful resource (repository, log group, bucket, secret) lives with its stack: retained
 * when the stack is deleted, or deleted with it, emptied first, when the environment is ephemeral.
 * One rule for every such resource, so that `ephemeral` means the same thing everywhere.
 */
export interface StatefulLifecycle {
  /** `RETAIN`, or `DESTROY` when ephemeral. */
  readonly removalPolicy: RemovalPolicy;
  /**
   * `true` when ephemeral: a bucket (`autoDeleteObjects`) or a repository (`emptyOnDelete`) is
   * emptied before it is deleted; left out when retained (nothing to empty).
   */
  readonly emptyOnDelete?: boolean;
}

/** The lifecycle of a stateful resource of an environment that is `ephemeral` or not. */
export function statefulLifecycle(ephemeral: boolean | undefined): StatefulLifecycle {
  return ephemeral
    ? { removalPolicy: RemovalPolicy.DESTROY, emptyOnDelete: true }
    : { removalPolicy: RemovalPolicy.RETAIN };
}
