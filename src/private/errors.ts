import { IConstruct } from 'constructs';

/**
 * Thrown at synth time when a prop is invalid.
 *
 * The message names the construct path, the prop, the value received and the fix, so that
 * a user reading a failed `cdk synth` knows exactly what to change.
 */
export class StagingValidationError extends Error {
  constructor(scope: IConstruct, message: string) {
    super(`${scope.node.path}: ${message}`);
    this.name = 'StagingValidationError';
  }
}
