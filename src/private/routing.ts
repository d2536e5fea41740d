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
 * more specific kind of route comes first: routes on a host and a path, then on a path, then on a
 * host. Within a kind, the service's name spreads the routes over the kind's 16000 priorities (two
 * of 50 services of one kind share one with a chance of about 7 %); where one route of a kind
 * would shadow another, the edge fails at synth and asks for an explicit priority.
 */

/**
 * The catch-all rule's priorities: after every other rule, and derived from its service's name
 * too, so that renaming the catch-all service (or handing the role to another one) creates the new
 * rule beside the old one instead of on the same priority.
 */
const CATCH_ALL_FIRST = 49001;
const CATCH_ALL_SLOTS = 1000;

/** Highest priority a user may give: every explicit priority comes before the catch-all. */
export const MAX_EXPLICIT_PRIORITY = CATCH_ALL_FIRST - 1;

/** Priorities per kind of route. */
const BAND = 16000;

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
 * Host-and-path routes get 1-16000, path routes 16001-32000, host routes 32001-48000; 48001-49000
 * stay free for explicit priorities.
 */
export function derivePriority(serviceName: string, match: RuleMatch): number {
  const kind = match.hosts.length > 0 && match.paths.length > 0 ? RouteKind.HOST_AND_PATH
    : match.paths.length > 0 ? RouteKind.PATH : RouteKind.HOST;
  return kind * BAND + nameHash(serviceName) % BAND + 1;
}

/** The priority of the catch-all rule of `serviceName`: 49001-50000, after every other rule. */
export function deriveCatchAllPriority(serviceName: string): number {
  return CATCH_ALL_FIRST + nameHash(serviceName) % CATCH_ALL_SLOTS;
}

function nameHash(serviceName: string): number {
  return createHash('sha256').update(serviceName).digest().readUInt32BE(0);
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
