import { IConstruct } from 'constructs';

/**
 * The prefix of every message this library fails synth with.
 *
 * Part of the message itself, because the error's class name does not reach every language: in
 * Python the error arrives as a plain `RuntimeError`, which a user (or a test) matches by message.
 */
export const ERROR_PREFIX = '[cdk-ecs-staging] ';

/**
 * Thrown at synth time when a prop is invalid.
 *
 * The message starts with `[cdk-ecs-staging] ` and the construct path, then names the prop, the
 * value received and the fix, so that a user reading a failed `cdk synth` knows exactly what to
 * change. Props are named as in TypeScript; their Python names follow in brackets.
 */
export class StagingValidationError extends Error {
  constructor(scope: IConstruct, message: string) {
    super(`${ERROR_PREFIX}${scope.node.path}: ${withPythonNames(message)}`);
    this.name = 'StagingValidationError';
  }
}

/**
 * Appends the Python names of the camelCase props and methods a message names, e.g.
 * `desiredCount must be ...` gets ` [Python: desired_count]`. Quoted values are left out; an
 * apostrophe inside a word (`aws-cdk-lib's`) opens no quote, and a quote leaves a space behind, so
 * that the words around it do not join into a name.
 */
export function withPythonNames(message: string): string {
  const unquoted = message.replace(/(?<![A-Za-z0-9])'[^']*'(?![A-Za-z0-9])|"[^"]*"/g, ' ');
  const names = new Set<string>();
  // A member path such as `autoScaling.maxCapacity` or `StagingSecret.fromSecretArn`; class names keep their case.
  for (const [path] of unquoted.matchAll(/(?<![A-Za-z0-9_.])(?:[A-Z][A-Za-z0-9]*\.)*[a-z][A-Za-z0-9]*(?:\.[a-z][A-Za-z0-9]*)*/g)) {
    const segments = path.split('.');
    if (segments.some((segment) => /^[a-z][a-z0-9]*[A-Z]/.test(segment))) {
      names.add(segments.map((segment) => (/^[a-z]/.test(segment) ? pythonName(segment) : segment)).join('.'));
    }
  }
  return names.size === 0 ? message : `${message} [Python: ${[...names].join(', ')}]`;
}

/** The Python name jsii gives a camelCase member (`memoryLimitMiB` becomes `memory_limit_mib`). */
export function pythonName(name: string): string {
  return name
    .replace(/(^|[^A-Z])(KiB|MiB|GiB)($|[^a-z])/g, (_m, before: string, abbr: string, after: string) => before + abbr[0] + abbr.slice(1).toLowerCase() + after)
    .replace(/([a-z\d])([A-Z])/g, '$1_$2')
    .replace(/([A-Z]+)([A-Z][a-z\d]+)/g, '$1_$2')
    .toLowerCase();
}
