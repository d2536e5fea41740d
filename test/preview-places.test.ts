/**
 * The places of a preview's listener rules in its slot: sticky (a service keeps the place the
 * deployed stack recorded in its RulePlaces output, handed back as previewRulePlaces), new services
 * on the lowest place no rule of the deployed stack holds, so that CloudFormation, which creates new
 * rules before it deletes the removed ones, never creates a rule on a priority in use.
 */
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as fc from 'fast-check';
import { EcsStagingEnvironment, StagingPreviewStack } from '../src';
import { TEST_ENV, testApp, testZone } from './harness/apps';
import { assignRulePlaces, formatRulePlaces } from '../src/private/preview-places';

/** A listener rule of a synthesized preview: its logical ID, priority and host. */
interface Rule {
  readonly id: string;
  readonly priority: number;
  readonly host: string;
}

/** What one synth of a preview gives: its rules and its RulePlaces output. */
interface Synthesized {
  readonly stack: StagingPreviewStack;
  readonly rules: Rule[];
  readonly output: string;
}

const BASE_CONTEXT = { previewPullRequest: '7', previewImageTag: 'pr-7-0123456789ab' };

/** An app whose environment previews `services`, and (from the context, as the workflow synthesizes it) the preview of pull request 7. */
function previewApp(services: string[], context: { [key: string]: unknown }): { app: App; env: EcsStagingEnvironment } {
  const app = testApp();
  for (const [key, value] of Object.entries(context)) app.node.setContext(key, value);
  const stack = new Stack(app, 'Env', { env: TEST_ENV });
  const env = new EcsStagingEnvironment(stack, 'Staging', {
    domain: { domainName: 'staging.example.com', hostedZone: testZone(stack) },
    previews: { maxPreviews: 3 },
  });
  for (const name of services) env.addService(name, { hostHeaders: [`${name}.staging.example.com`] });
  return { app, env };
}

/** Synthesizes the preview as the workflow does: `-c previewSlot=<slot>` and, when given, `-c previewRulePlaces=<places>`. */
function synthPreview(services: string[], slot: number, places?: string): Synthesized {
  const context = { ...BASE_CONTEXT, previewSlot: String(slot), ...(places === undefined ? {} : { previewRulePlaces: places }) };
  const { app, env } = previewApp(services, context);
  const stack = StagingPreviewStack.fromContext(app, env)!;
  const template = Template.fromStack(stack).toJSON();
  const rules = Object.entries(template.Resources as Record<string, any>)
    .filter(([, r]) => r.Type === 'AWS::ElasticLoadBalancingV2::ListenerRule')
    .map(([id, r]) => ({ id, priority: r.Properties.Priority, host: r.Properties.Conditions[0].HostHeaderConfig.Values[0] }));
  return { stack, rules, output: template.Outputs.RulePlaces.Value };
}

/**
 * What CloudFormation's update from `previous` to `next` would trip over: a rule it creates (a
 * logical ID `previous` has not) on a priority a rule of `previous` holds until the cleanup
 * (PriorityInUse), and a rule it keeps whose priority it would move in place.
 */
function updateConflicts(previous: Rule[], next: Rule[]): string[] {
  const held = new Map(previous.map((r) => [r.priority, r.id]));
  const conflicts: string[] = [];
  for (const rule of next) {
    const before = previous.find((r) => r.id === rule.id);
    if (before === undefined && held.has(rule.priority)) {
      conflicts.push(`new rule ${rule.id} takes priority ${rule.priority}, which ${held.get(rule.priority)} holds until the cleanup`);
    }
    if (before !== undefined && before.priority !== rule.priority) {
      conflicts.push(`rule ${rule.id} moves from ${before.priority} to ${rule.priority} in place`);
    }
  }
  return conflicts;
}

const byHost = (rules: Rule[]) => Object.fromEntries(rules.map((r) => [r.host.split('.')[0], r]));

describe('assignRulePlaces', () => {
  test('without places of a deployed stack: 0, 1, 2... in the order of the names, whatever the order given', () => {
    expect(assignRulePlaces(['web', 'api', 'worker'])).toEqual({ api: 0, web: 1, worker: 2 });
    expect(assignRulePlaces(['worker', 'web', 'api'])).toEqual({ api: 0, web: 1, worker: 2 });
  });

  test('a listed service keeps its place; a new one takes the lowest place no listed entry holds, a removed service\'s included', () => {
    // GIVEN the deployed stack had api=0 web=1 worker=3; api is gone, admin and queue are new
    const previous = { api: 0, web: 1, worker: 3 };
    // WHEN
    const places = assignRulePlaces(['web', 'worker', 'queue', 'admin'], previous);
    // THEN api's place 0 stays free (its rule exists until the cleanup): admin and queue take 2 and 4
    expect(places).toEqual({ admin: 2, queue: 4, web: 1, worker: 3 });
  });

  test('says when no place is left', () => {
    const previous = Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`old${i}`, i]));
    expect(assignRulePlaces(['web'], previous)).toBeUndefined();
    expect(assignRulePlaces(['old5'], previous)).toEqual({ old5: 5 });
  });

  test('over any sequence of deploys, places are distinct, kept services keep theirs and no new rule takes a place the last deploy holds', () => {
    const pool = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'api', 'web', 'worker', 'queue'];
    const deploys = fc.array(fc.subarray(pool, { minLength: 1 }), { minLength: 1, maxLength: 10 });
    fc.assert(fc.property(deploys, fc.nat(), (sets, seed) => {
      let previous: { [service: string]: number } | undefined;
      for (const services of sets) {
        // Any order of the services: the result must not depend on it
        const shuffled = [...services].sort((x, y) => ((x.charCodeAt(0) * 31 + seed) % 7) - ((y.charCodeAt(0) * 31 + seed) % 7));
        const places = assignRulePlaces(shuffled, previous)!;
        expect(places).toEqual(assignRulePlaces(services, previous));
        expect(Object.keys(places).sort()).toEqual([...services].sort());
        const values = Object.values(places);
        expect(new Set(values).size).toBe(values.length);
        for (const [service, place] of Object.entries(places)) {
          expect(place).toBeGreaterThanOrEqual(0);
          expect(place).toBeLessThan(100);
          if (previous && service in previous) {
            expect(place).toBe(previous[service]);
          } else if (previous) {
            expect(Object.values(previous)).not.toContain(place);
          }
        }
        previous = places;
      }
    }), { numRuns: 300 });
  });
});

describe('StagingPreviewStack rule places', () => {
  test('without previewRulePlaces: places from 0 in name order, recorded in the RulePlaces output, sorted by name', () => {
    // WHEN
    const preview = synthPreview(['web', 'api', 'worker'], 1);
    // THEN
    expect(preview.stack.rulePlaces).toEqual({ api: 0, web: 1, worker: 2 });
    expect(preview.output).toBe('api=0 web=1 worker=2');
    expect(byHost(preview.rules)['pr-7-api'].priority).toBe(48101);
    expect(byHost(preview.rules)['pr-7-worker'].priority).toBe(48103);
  });

  test('the rule\'s logical ID names its slot and its place: a changed priority is a new rule, never one moved in place', () => {
    const preview = synthPreview(['web', 'api'], 2, 'web=4');
    const rules = byHost(preview.rules);
    expect(rules['pr-7-web'].id).toMatch(/^webListenerRuleSlot2Place4[0-9A-F]{8}$/);
    expect(rules['pr-7-web'].priority).toBe(48001 + 200 + 4);
    expect(rules['pr-7-api'].id).toMatch(/^apiListenerRuleSlot2Place0[0-9A-F]{8}$/);
    expect(rules['pr-7-api'].priority).toBe(48001 + 200);
    expect(preview.output).toBe('api=0 web=4');
  });

  test('three deploys of one preview ({a, b}, {a, c}, {b, c}), each synthesized with the last one\'s output: no new rule on a priority in use, kept services keep theirs', () => {
    // GIVEN the first deploy, of a stack that does not exist yet
    const first = synthPreview(['a', 'b'], 1);
    // WHEN each next push synthesizes with the output of the stack as the last deploy left it
    const second = synthPreview(['a', 'c'], 1, first.output);
    const third = synthPreview(['b', 'c'], 1, second.output);
    // THEN
    expect([first.output, second.output, third.output]).toEqual(['a=0 b=1', 'a=0 c=2', 'b=1 c=2']);
    expect(updateConflicts(first.rules, second.rules)).toEqual([]);
    expect(updateConflicts(second.rules, third.rules)).toEqual([]);
    for (const new_ of second.rules.filter((r) => !first.rules.some((p) => p.id === r.id))) {
      expect(first.rules.map((r) => r.priority)).not.toContain(new_.priority);
    }
    for (const new_ of third.rules.filter((r) => !second.rules.some((p) => p.id === r.id))) {
      expect(second.rules.map((r) => r.priority)).not.toContain(new_.priority);
    }
    // a stays where it was from the first deploy to the second, c from the second to the third
    expect(byHost(second.rules)['pr-7-a']).toEqual(byHost(first.rules)['pr-7-a']);
    expect(byHost(third.rules)['pr-7-c']).toEqual(byHost(second.rules)['pr-7-c']);
    // AND without the output handed back, the second deploy would create c's rule on b's priority
    expect(updateConflicts(first.rules, synthPreview(['a', 'c'], 1).rules)).toEqual([
      expect.stringMatching(/^new rule cListenerRuleSlot1Place1\w+ takes priority 48102, which bListenerRuleSlot1Place1\w+ holds until the cleanup$/),
    ]);
  });

  test('places recorded in another slot are honoured: the rules are new (their logical IDs name the new slot) in the new slot\'s range', () => {
    const before = synthPreview(['a', 'b'], 0, 'a=3 b=5');
    const after = synthPreview(['a', 'b'], 2, before.output);
    expect(after.output).toBe('a=3 b=5');
    expect(after.rules.map((r) => r.priority).sort()).toEqual([48204, 48206]);
    expect(after.rules.filter((r) => before.rules.some((p) => p.id === r.id))).toEqual([]);
    expect(updateConflicts(before.rules, after.rules)).toEqual([]);
  });

  test('takes the places as a context object too (cdk.json, new App({ context }))', () => {
    const { app, env } = previewApp(['web', 'api'], { ...BASE_CONTEXT, previewSlot: '0', previewRulePlaces: { web: 2, api: '7' } });
    expect(StagingPreviewStack.fromContext(app, env)!.rulePlaces).toEqual({ api: 7, web: 2 });
  });

  test.each(['', 'None'])('takes %p (no output yet: the AWS CLI prints None) as no places', (value) => {
    const { app, env } = previewApp(['web', 'api'], { ...BASE_CONTEXT, previewSlot: '0', previewRulePlaces: value });
    expect(StagingPreviewStack.fromContext(app, env)!.rulePlaces).toEqual({ api: 0, web: 1 });
  });

  test('takes the places as a prop', () => {
    const { app, env } = previewApp(['web', 'api'], {});
    const preview = new StagingPreviewStack(app, 'Preview', { environment: env, pullRequest: 7, slot: 0, imageTag: 'pr-7-abc', rulePlaces: { api: 9 } });
    expect(preview.rulePlaces).toEqual({ api: 9, web: 0 });
    expect(formatRulePlaces(preview.rulePlaces)).toBe('api=9 web=0');
  });

  describe('bad input', () => {
    const fromContext = (places: unknown) => () => {
      const { app, env } = previewApp(['web', 'api'], { ...BASE_CONTEXT, previewSlot: '0', previewRulePlaces: places });
      StagingPreviewStack.fromContext(app, env);
    };
    const withProp = (rulePlaces: { [service: string]: number }) => () => {
      const { app, env } = previewApp(['web', 'api'], {});
      new StagingPreviewStack(app, 'Preview', { environment: env, pullRequest: 7, slot: 0, imageTag: 'pr-7-abc', rulePlaces });
    };

    test.each([['web:0', 'web:0'], ['web=0,api=1', 'web=0,api=1'], ['web=x', 'web=x'], ['web=0 =1', '=1']])('fails when the context value is %p', (value, pair) => {
      expect(fromContext(value)).toThrow(`the context value 'previewRulePlaces' must be <service>=<place> pairs separated by spaces, and '${pair}' is not one (got '${value}'); `
        + 'pass the preview stack\'s RulePlaces output as it is, e.g. -c \'previewRulePlaces=api=0 web=1\', or leave the key out for a stack not deployed yet');
    });

    test('fails when the context value is no text nor object', () => {
      expect(fromContext(5)).toThrow('the context value \'previewRulePlaces\' must be <service>=<place> pairs separated by spaces (got 5)');
    });

    test('fails when the context value names a service twice, or gives two services one place', () => {
      expect(fromContext('web=0 web=1')).toThrow('the context value \'previewRulePlaces\' names service \'web\' twice (got \'web=0 web=1\')');
      // A context key is the same in Python: the message gives it no Python name
      expect(fromContext('web=0 web=1')).toThrow(/not deployed yet$/);
      expect(fromContext('web=3 api=3')).toThrow('the context value \'previewRulePlaces\' gives services \'api\' and \'web\' the same place 3, and two rules of one listener cannot share a priority (got \'api=3 web=3\')');
    });

    test('fails when the context value gives a place outside 0-99 or names no service', () => {
      expect(fromContext('web=100')).toThrow('the context value \'previewRulePlaces\' gives service \'web\' the place 100, and a place is a whole number from 0 to 99 (got \'web=100\')');
      expect(fromContext('Web=1')).toThrow('the context value \'previewRulePlaces\' names \'Web\', which is no service name');
      expect(fromContext({ web: -1 })).toThrow('gives service \'web\' the place -1');
    });

    test.each([[100], [-1], [1.5], [Number.NaN]])('fails when the prop gives the place %p', (place) => {
      expect(withProp({ web: place })).toThrow(`rulePlaces gives service 'web' the place ${place}, and a place is a whole number from 0 to 99 (got 'web=${place}'); `
        + 'pass the deployed preview stack\'s RulePlaces output (e.g. { api: 0, web: 1 } for \'api=0 web=1\'), or leave rulePlaces out for a stack not deployed yet [Python: rule_places]');
    });

    test('fails when the prop gives two services one place, or names no service', () => {
      expect(withProp({ web: 1, api: 1 })).toThrow('rulePlaces gives services \'api\' and \'web\' the same place 1');
      expect(withProp({ 'web-': 1 })).toThrow('rulePlaces names \'web-\', which is no service name');
      expect(withProp({ constructor: 1, web: 1 })).toThrow('rulePlaces gives services \'constructor\' and \'web\' the same place 1');
    });

    test('fails when no place is left for a new service', () => {
      const full = Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`old${i}`, i]));
      expect(withProp(full)).toThrow(/rulePlaces holds 100 places \(got 'old0=0 .*'\), and of the 100 places of a slot too few are left for api, web; deploy the preview with fewer services first, or delete its stack/);
    });

    test('fails when the context gives the places without the keys of a preview', () => {
      const { app, env } = previewApp(['web'], { previewRulePlaces: 'web=0' });
      expect(() => StagingPreviewStack.fromContext(app, env)).toThrow(
        'the context sets previewRulePlaces but not previewPullRequest, previewSlot, previewImageTag: a preview needs all three (got previewRulePlaces=web=0)');
    });
  });
});
