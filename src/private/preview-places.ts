import { IConstruct } from 'constructs';
import { StagingValidationError } from './errors';
import { PREVIEW_PRIORITIES_PER_SLOT } from './preview-publication';
import { isServiceName } from './validation';

/**
 * Places of a preview's listener rules in its slot: the rule of a previewed service has the
 * priority `PREVIEW_PRIORITY_BASE + slot * PREVIEW_PRIORITIES_PER_SLOT + place`, place 0-99.
 *
 * Two rules of one listener may not hold one priority ("A listener can't have multiple rules with
 * the same priority", ELB API reference, CreateRule:
 * https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_CreateRule.html), and on
 * an update CloudFormation creates new and replacing resources first and deletes the removed and
 * replaced ones last, in the cleanup phase ("Understand update behaviors of stack resources":
 * https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/using-cfn-updating-stacks-update-behaviors.html).
 * So a new rule must not take a place that any rule of the stack's previous version holds. The
 * stack records its places in its `RulePlaces` output; the preview workflow reads it and hands it
 * back (`-c previewRulePlaces=...`): a service listed there keeps its place, every other one takes
 * the lowest place that no listed entry holds, services no longer previewed included (their rules
 * exist until the cleanup). A place never depends on the order services were added in.
 */

/** The stack output that records the places: `api=0 web=1`, sorted by service name. */
export const RULE_PLACES_OUTPUT = 'RulePlaces';

/** The context key that hands the places back to `StagingPreviewStack.fromContext()`. */
export const RULE_PLACES_CONTEXT_KEY = 'previewRulePlaces';

/** `api=0 web=1`: `<service>=<place>` pairs, sorted by service name, one space apart. */
export function formatRulePlaces(places: { [service: string]: number }): string {
  return Object.keys(places).sort().map((service) => `${service}=${places[service]}`).join(' ');
}

/**
 * The places a context value gives: the `RulePlaces` output's text (`api=0 web=1`), or an object
 * (`{"api": 0, "web": 1}`, as cdk.json or `new App({ context })` may hold it). Checked as
 * `checkRulePlaces` checks them, the messages naming the context key.
 */
export function parseRulePlacesContext(scope: IConstruct, value: unknown): { [service: string]: number } {
  const key = `the context value '${RULE_PLACES_CONTEXT_KEY}'`;
  const fix = `pass the preview stack's ${RULE_PLACES_OUTPUT} output as it is, e.g. -c '${RULE_PLACES_CONTEXT_KEY}=api=0 web=1', or leave the key out for a stack not deployed yet`;
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
    const places = Object.fromEntries(Object.entries(value).map(([service, place]) => [service, typeof place === 'string' && /^\d+$/.test(place) ? Number(place) : place]));
    checkRulePlaces(scope, key, places, fix);
    return places as { [service: string]: number };
  }
  if (typeof value !== 'string') {
    throw new StagingValidationError(scope, `${key} must be <service>=<place> pairs separated by spaces (got ${JSON.stringify(value)}); ${fix}`);
  }
  const text = value.trim();
  const pairs = text.split(/\s+/);
  const malformed = pairs.find((pair) => !/^[^=\s]+=\d+$/.test(pair));
  if (malformed !== undefined) {
    throw new StagingValidationError(scope, `${key} must be <service>=<place> pairs separated by spaces, and '${malformed}' is not one (got '${value}'); ${fix}`);
  }
  const entries = new Map<string, number>();
  for (const pair of pairs) {
    const [service, place] = pair.split('=');
    if (entries.has(service)) {
      throw new StagingValidationError(scope, `${key} names service '${service}' twice (got '${text}'); ${fix}`);
    }
    entries.set(service, Number(place));
  }
  const places = Object.fromEntries(entries);
  checkRulePlaces(scope, key, places, fix);
  return places;
}

/**
 * Fails unless `places` maps service names to distinct whole places from 0 to 99: what a preview
 * stack's `RulePlaces` output holds.
 *
 * @param what the prop or context key, as the message names it
 */
export function checkRulePlaces(scope: IConstruct, what: string, places: { [service: string]: unknown }, fix: string): void {
  const given = () => formatRulePlaces(places as { [service: string]: number });
  const holders = new Map<number, string>();
  for (const service of Object.keys(places).sort()) {
    const place = places[service];
    if (!isServiceName(service)) {
      throw new StagingValidationError(scope, `${what} names '${service}', which is no service name: 1-24 lowercase letters, digits and hyphens, starting with a letter and not ending with a hyphen (got '${given()}'); ${fix}`);
    }
    if (typeof place !== 'number' || !Number.isInteger(place) || place < 0 || place >= PREVIEW_PRIORITIES_PER_SLOT) {
      throw new StagingValidationError(scope, `${what} gives service '${service}' the place ${String(place)}, and a place is a whole number from 0 to ${PREVIEW_PRIORITIES_PER_SLOT - 1} `
        + `(got '${given()}'); ${fix}`);
    }
    const other = holders.get(place);
    if (other !== undefined) {
      throw new StagingValidationError(scope, `${what} gives services '${other}' and '${service}' the same place ${place}, and two rules of one listener cannot share a priority `
        + `(got '${given()}'); ${fix}`);
    }
    holders.set(place, service);
  }
}

/**
 * The place of each of `services` in the slot: a service that `previous` lists keeps its place; the
 * others, in name order, take the lowest places that no entry of `previous` holds (nor one given
 * before them). Without `previous`: 0, 1, 2... in name order. The result depends on the sets alone,
 * never on the order of `services`.
 *
 * @returns the places, or undefined when the slot has no free place left for every service
 */
export function assignRulePlaces(services: string[], previous: { [service: string]: number } = {}): { [service: string]: number } | undefined {
  const taken = new Set(Object.values(previous));
  const places: { [service: string]: number } = {};
  let next = 0;
  for (const service of [...services].sort()) {
    if (Object.prototype.hasOwnProperty.call(previous, service)) {
      places[service] = previous[service];
      continue;
    }
    while (taken.has(next)) next++;
    if (next >= PREVIEW_PRIORITIES_PER_SLOT) {
      return undefined;
    }
    places[service] = next;
    taken.add(next);
  }
  return places;
}
