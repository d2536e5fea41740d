import { Token } from 'aws-cdk-lib';
import { IConstruct } from 'constructs';
import { StagingValidationError } from './errors';

/** Fails unless `value` is an integer in [min, max]. Unresolved tokens are not validated. */
export function validateIntegerRange(scope: IConstruct, prop: string, value: number | undefined, min: number, max: number, fix: string): void {
  if (value === undefined || Token.isUnresolved(value)) {
    return;
  }
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new StagingValidationError(scope, `${prop} must be an integer from ${min} to ${max} (got ${value}); ${fix}`);
  }
}

/** Fails when two mutually exclusive props are both set. */
export function validateExclusive(scope: IConstruct, first: string, firstValue: unknown, second: string, secondValue: unknown, fix: string): void {
  if (firstValue !== undefined && secondValue !== undefined) {
    throw new StagingValidationError(scope, `${first} and ${second} cannot be used together (got both); ${fix}`);
  }
}

/** A parsed IPv4 CIDR block. */
export interface ParsedCidr {
  readonly address: string;
  readonly prefix: number;
}

/** Parses `a.b.c.d/n` strictly: four octets 0-255, prefix 0-32, no host bits set. Returns undefined when invalid. */
export function parseIpv4Cidr(cidr: string): ParsedCidr | undefined {
  const match = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(cidr);
  if (!match) {
    return undefined;
  }
  const octets = match.slice(1, 5).map(Number);
  const prefix = Number(match[5]);
  if (octets.some((o) => o > 255) || prefix > 32) {
    return undefined;
  }
  const address = octets.reduce((acc, o) => acc * 256 + o, 0);
  const hostBits = 2 ** (32 - prefix);
  if (address % hostBits !== 0) {
    return undefined;
  }
  return { address: octets.join('.'), prefix };
}

/** Fails unless `name` is a DNS-safe service name of at most 24 characters. */
export function validateServiceName(scope: IConstruct, name: string): void {
  if (!/^[a-z][a-z0-9-]{0,23}$/.test(name) || name.endsWith('-')) {
    throw new StagingValidationError(scope,
      `service name must be 1-24 lowercase letters, digits and hyphens, start with a letter and not end with a hyphen (got '${name}'); it is used in DNS-safe and target-group names`);
  }
}
