import { createHash } from 'crypto';
import { Token } from 'aws-cdk-lib';

/**
 * Listener-rule priorities that depend on the route alone.
 *
 * CloudFormation creates and updates listener rules before it deletes any, and the ALB rejects two
 * rules of one listener with the same priority (`PriorityInUse`). A priority taken from the order
 * in which services were added moves when a service is removed or inserted, so it is derived here
 * from the service's own name and route, never from its position among the others.
 *
 * The ALB evaluates rules from the lowest priority up and the first match wins
 * (https://docs.aws.amazon.com/elasticloadbalancing/latest/application/listener-rules.html), so the
 * more specific route must come first: routes on a host and a path, then on a path, then on a host,
 * and within each, the route whose patterns hold more literal characters. The service name only
 * spreads routes of equal specificity over their slot range.
 */

/** Priority of the catch-all rule: the last one the ALB evaluates. */
export const CATCH_ALL_PRIORITY = 50000;

/** Highest priority a user may give (the ALB allows 1-50000; 50000 is the catch-all's). */
export const MAX_EXPLICIT_PRIORITY = CATCH_ALL_PRIORITY - 1;

/** Specificity levels within a kind of route: patterns with 31 or more literal characters share the first. */
const LEVELS = 32;
/** Priorities per level: where service names spread. */
const SLOTS = 500;
/** Priorities per kind of route. */
const BAND = LEVELS * SLOTS;

/** The kinds of route, most specific first. */
enum RouteKind {
  HOST_AND_PATH = 0,
  PATH = 1,
  HOST = 2,
}

/** The conditions of a listener rule, as the ALB evaluates them. */
export interface RuleMatch {
  /** Host header patterns; empty: any host. */
  readonly hosts: string[];
  /** Path patterns; empty: any path. */
  readonly paths: string[];
}

/**
 * The priority of a route, derived from the service's name and its route only.
 *
 * Host-and-path routes get 1-16000, path routes 16001-32000, host routes 32001-48000; 48001-49999
 * stay free for explicit priorities.
 */
export function derivePriority(serviceName: string, match: RuleMatch): number {
  const kind = match.hosts.length > 0 && match.paths.length > 0 ? RouteKind.HOST_AND_PATH
    : match.paths.length > 0 ? RouteKind.PATH : RouteKind.HOST;
  const patterns = kind === RouteKind.HOST ? match.hosts : match.paths;
  const literal = Math.min(...patterns.map(literalLength));
  const level = LEVELS - 1 - Math.min(literal, LEVELS - 1);
  const slot = createHash('sha256').update(serviceName).digest().readUInt32BE(0) % SLOTS;
  return kind * BAND + level * SLOTS + slot + 1;
}

/** Characters of a pattern that are not wildcards. */
function literalLength(pattern: string): number {
  return pattern.replace(/[*?]/g, '').length;
}

/**
 * True when `general` matches every request that `specific` matches, so that a rule with
 * `specific` placed after one with `general` would never be reached. Unresolved tokens never shadow.
 */
export function shadows(general: RuleMatch, specific: RuleMatch): boolean {
  return covers(general.hosts, specific.hosts, '*', true) && covers(general.paths, specific.paths, '/*', false);
}

/**
 * Every value matched by one of `inner` is matched by one of `outer`; an empty list matches any
 * value, as the pattern `universal` does (any host: `*`; any path: `/*`, since paths start with `/`).
 */
function covers(outer: string[], inner: string[], universal: string, caseInsensitive: boolean): boolean {
  if (outer.length === 0) {
    return true;
  }
  const innerPatterns = inner.length > 0 ? inner : [universal];
  if ([...outer, ...innerPatterns].some((p) => Token.isUnresolved(p))) {
    return false;
  }
  const norm = (p: string) => (caseInsensitive ? p.toLowerCase() : p);
  return innerPatterns.every((i) => outer.some((o) => globContains(norm(o), norm(i))));
}

/**
 * True when every string the glob `specific` matches is also matched by the glob `general`
 * (`*`: any run of characters, `?`: one character, as ALB conditions use them).
 * Sound: a true answer is always right; a few contrived pairs may answer false.
 */
export function globContains(general: string, specific: string): boolean {
  const memo = new Map<number, boolean>();
  const step = (i: number, j: number): boolean => {
    const key = i * (specific.length + 1) + j;
    const known = memo.get(key);
    if (known !== undefined) {
      return known;
    }
    let result: boolean;
    if (i === general.length) {
      result = j === specific.length;
    } else if (general[i] === '*') {
      result = step(i + 1, j) || (j < specific.length && step(i, j + 1));
    } else if (j === specific.length) {
      result = false;
    } else if (general[i] === '?') {
      result = specific[j] !== '*' && step(i + 1, j + 1);
    } else {
      result = specific[j] === general[i] && step(i + 1, j + 1);
    }
    memo.set(key, result);
    return result;
  };
  return step(0, 0);
}
