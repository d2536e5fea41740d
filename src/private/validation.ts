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
  if (!isServiceName(name)) {
    throw new StagingValidationError(scope,
      `service name must be 1-24 lowercase letters, digits and hyphens, start with a letter and not end with a hyphen (got '${name}'); it is used in DNS-safe and target-group names`);
  }
}

/** A service name: 1-24 lowercase letters, digits and hyphens, starting with a letter, not ending with a hyphen. */
export function isServiceName(name: string): boolean {
  return /^[a-z][a-z0-9-]{0,23}$/.test(name) && !name.endsWith('-');
}

/**
 * A prop's name as a user of either binding writes it: `` `hostHeaders` / `host_headers` `` when the
 * TypeScript and Python spellings differ, else `` `cpu` ``. Nested props keep their dots
 * (`` `domain.domainName` / `domain.domain_name` ``); the key of a map prop is appended as given
 * (`` `configFromParameters.myKey` / `config_from_parameters.myKey` ``).
 */
export function propName(prop: string, key?: string): string {
  const python = prop.split('.').map((part) => part.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toLowerCase()).join('.');
  const [ts, py] = key === undefined ? [prop, python] : [`${prop}.${key}`, `${python}.${key}`];
  return ts === py ? `\`${ts}\`` : `\`${ts}\` / \`${py}\``;
}

/**
 * Host names an ALB host-header condition accepts (ELB API reference, HostHeaderConditionConfig:
 * https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_HostHeaderConditionConfig.html,
 * and the user guide's "Add a listener rule":
 * https://docs.aws.amazon.com/elasticloadbalancing/latest/application/add-rule.html): at most 128
 * characters of a-z, A-Z, 0-9, `-`, `_`, `.` and the wildcards `*` and `?`; at least one `.`, and
 * only letters after the last one.
 */
const HOST_HEADER = /^[A-Za-z0-9\-_.*?]+$/;
/** Path patterns of an ALB path-pattern condition (same pages): at most 128 characters of a-z, A-Z, 0-9, `_-.$/~"'@:+&` and `*`, `?`. */
const PATH_PATTERN = /^[A-Za-z0-9_\-.$/~"'@:+&*?]+$/;
/** Either condition's values hold at most 128 characters. */
const MAX_CONDITION_VALUE = 128;

/**
 * Fails unless `value` is a host-header pattern an ALB listener rule accepts. `of` follows the prop's
 * name in the message (e.g. ` of service 'api'`). Unresolved tokens are not validated.
 */
export function validateHostHeader(scope: IConstruct, prop: string, of: string, value: string, fix: string): void {
  if (Token.isUnresolved(value)) {
    return;
  }
  const afterLastDot = value.includes('.') ? value.slice(value.lastIndexOf('.') + 1) : '';
  const problem = value.length === 0 || value.length > MAX_CONDITION_VALUE ? `is ${value.length} characters, and an ALB host-header condition takes 1-${MAX_CONDITION_VALUE}`
    : !HOST_HEADER.test(value) ? 'holds a character an ALB host-header condition rejects (allowed: letters, digits, - _ . and the wildcards * ?)'
      : !value.includes('.') ? 'has no \'.\', which an ALB host-header condition requires'
        : !/^[A-Za-z]+$/.test(afterLastDot) ? 'ends in something other than letters after its last \'.\', which an ALB host-header condition requires'
          : undefined;
  if (problem) {
    throw new StagingValidationError(scope, `${propName(prop)}${of}: '${value}' ${problem}; ${fix}`);
  }
}

/** Fails unless `value` is a path pattern an ALB listener rule accepts, starting with `/`. Unresolved tokens are not validated. */
export function validatePathPattern(scope: IConstruct, prop: string, of: string, value: string, fix: string): void {
  if (Token.isUnresolved(value)) {
    return;
  }
  const problem = value.length === 0 || value.length > MAX_CONDITION_VALUE ? `is ${value.length} characters, and an ALB path-pattern condition takes 1-${MAX_CONDITION_VALUE}`
    : !value.startsWith('/') ? `does not start with '/', as the path of every request does (for example '/${value.replace(/^\/*/, '')}')`
      : !PATH_PATTERN.test(value) ? 'holds a character an ALB path-pattern condition rejects (allowed: letters, digits, _ - . $ / ~ " \' @ : + & and the wildcards * ?)'
        : undefined;
  if (problem) {
    throw new StagingValidationError(scope, `${propName(prop)}${of}: '${value}' ${problem}; ${fix}`);
  }
}

/**
 * Fails unless `name` is a domain name that ACM certifies and Route 53 holds as a record: labels of
 * 1-63 letters, digits and hyphens, not starting or ending with a hyphen, at most 253 characters in
 * all (Route 53 Developer Guide, "DNS domain name format":
 * https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/DomainNameFormat.html). A certificate's
 * DomainName is its common name, which RFC 5280 caps at 64 characters (ACM API reference,
 * RequestCertificate: https://docs.aws.amazon.com/acm/latest/APIReference/API_RequestCertificate.html):
 * pass `maxLength` 64 when a new certificate is requested for it. Unresolved tokens are not validated.
 */
export function validateDnsName(scope: IConstruct, prop: string, name: string, fix: string, maxLength = 253): void {
  if (Token.isUnresolved(name)) {
    return;
  }
  // A leading '*.' makes a wildcard certificate (ACM RequestCertificate DomainName) and record; a
  // trailing dot (the fully qualified form) is dropped by the edge.
  const labels = name.replace(/^\*\./, '').replace(/\.$/, '').split('.');
  const badLabel = labels.find((label) => !/^[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?$/.test(label));
  const longLabel = labels.find((label) => label.length > 63);
  const problem = name.length > maxLength ? `is ${name.length} characters, over the ${maxLength} of ${maxLength === 253 ? 'a DNS name' : 'a certificate\'s common name'}`
    : longLabel ? `has the label '${longLabel}' of ${longLabel.length} characters, over the 63 of a DNS label`
      : labels.length < 2 ? 'has a single label; a DNS name for a certificate needs a domain, e.g. \'staging.example.com\''
        : badLabel !== undefined ? `has the label '${badLabel}', and DNS labels are letters, digits and hyphens, not starting or ending with a hyphen`
          : undefined;
  if (problem) {
    throw new StagingValidationError(scope, `${propName(prop)}: '${name}' ${problem}; ${fix}`);
  }
}

/**
 * Fails unless `name` is an SSM parameter name (AWS Systems Manager API reference, PutParameter Name:
 * https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_PutParameter.html): letters,
 * digits, `_ . -` and `/` between the levels of at most 15, not prefixed with `aws` or `ssm`; of the
 * 2048 characters the API reports, 1037 are reserved for internal use, which leaves 1011 with the ARN. The
 * prefix applies to parameters the library creates (`created`), not to those it reads, such as
 * AWS's public `/aws/service/...` parameters. Unresolved tokens are not validated.
 */
export function validateParameterName(scope: IConstruct, prop: string, key: string | undefined, name: string, fix: string, created = true): void {
  if (Token.isUnresolved(name)) {
    return;
  }
  const levels = name.replace(/^\//, '').split('/').length;
  // The 1011 count the parameter's ARN too ("including the full length of the parameter ARN", AWS::SSM::Parameter Name,
  // https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-ssm-parameter.html): the ARN
  // prefix arn:<partition>:ssm:<region>:<account>:parameter takes up to 65 of them.
  const maxName = 1011 - 65;
  const problem = name.length === 0 || name.length > maxName ? `is ${name.length} characters, and an SSM parameter name takes 1-${maxName} beside its ARN`
    : !/^[A-Za-z0-9_.\-/]+$/.test(name) ? 'holds a character an SSM parameter name rejects (allowed: letters, digits, _ . - and / between levels)'
      : name.includes('//') || name.endsWith('/') ? 'has an empty level'
        : levels > 15 ? `has ${levels} levels, over the 15 of an SSM parameter hierarchy`
          : created && /^\/?(aws|ssm)/i.test(name) ? 'starts with aws or ssm, which SSM reserves for its own parameters'
            : undefined;
  if (problem) {
    throw new StagingValidationError(scope, `${propName(prop, key)} makes the SSM parameter name '${name}', which ${problem}; ${fix}`);
  }
}

/**
 * Fails unless `name` is an IAM role name (IAM API reference, CreateRole RoleName:
 * https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreateRole.html): 1-64 characters of
 * letters, digits and `_+=,.@-`. Unresolved tokens are not validated.
 */
export function validateRoleName(scope: IConstruct, prop: string, name: string, fix: string): void {
  if (Token.isUnresolved(name)) {
    return;
  }
  if (name.length === 0 || name.length > 64 || !/^[\w+=,.@-]+$/.test(name)) {
    throw new StagingValidationError(scope,
      `${propName(prop)} makes the IAM role name '${name}' (${name.length} characters), and IAM takes 1-64 letters, digits and _+=,.@-; ${fix}`);
  }
}

/**
 * Fails unless `key` and `value` make a tag every AWS service accepts (Tag Editor user guide, service
 * quotas: https://docs.aws.amazon.com/tag-editor/latest/userguide/reference.html): a key of 1-128 and
 * a value of 0-256 Unicode characters, letters, digits, spaces and `_ . : / = + - @` only. Keys may not
 * start with `aws:`; ECS, which tags every task, reserves it for values too (ECS API reference, Tag:
 * https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_Tag.html). Unresolved tokens are not validated.
 */
export function validateTag(scope: IConstruct, prop: string, key: string, value: string): void {
  // Spaces only (\p{Z}), not tabs or newlines: IAM's Tag pattern is [\p{L}\p{Z}\p{N}_.:/=+\-@]*
  // (https://docs.aws.amazon.com/IAM/latest/APIReference/API_Tag.html).
  const allowed = /^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$/u;
  const check = (what: 'key' | 'value', text: string, max: number) => {
    if (Token.isUnresolved(text)) {
      return;
    }
    const length = [...text].length;
    const problem = (what === 'key' && length === 0) || length > max ? `is ${length} characters, and a tag ${what} takes ${what === 'key' ? 1 : 0}-${max}`
      : !allowed.test(text) ? 'holds a character AWS tags reject (allowed: letters, digits, spaces and _ . : / = + - @)'
        : /^aws:/i.test(text) ? 'starts with aws:, which AWS reserves for its own tags'
          : undefined;
    if (problem) {
      throw new StagingValidationError(scope, `${propName(prop)}: tag ${what} '${text}'${what === 'value' ? ` (of key '${key}')` : ''} ${problem}; `
        + `${what === 'key' ? 'rename the key' : 'change the value'}`);
    }
  };
  check('key', key, 128);
  check('value', value, 256);
}
