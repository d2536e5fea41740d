import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as iam from 'aws-cdk-lib/aws-iam';

/** What binding a secret source needs to know. */
export interface SecretContext {
  /** The variable the secret is injected as. */
  readonly variable: string;
  /** The path of the service's parameters, e.g. `/staging/web`. */
  readonly parameterPath: string;
  /** Delete what the source creates with the stack. */
  readonly ephemeral: boolean;
  /** The role ECS resolves secrets with. */
  readonly executionRole: iam.IRole;
}

/** What a secret source gives the container once bound. */
export interface BoundSecret {
  /** The ECS binding: what the container definition's `secrets` names. */
  readonly ecsSecret: ecs.Secret;
  /** Grants the app read access at run time. */
  readonly grantRuntimeRead: (grantee: iam.IGrantable) => void;
}
