/**
 * `cdk-ecs-staging validate` against moto's server: a correctly built environment passes, and each
 * check fails, with its fix, on an environment broken the way it guards against.
 */
import { LoadBalancerServer, startLoadBalancerServer } from './harness/load-balancer-server';
import { Moto, startMoto } from './harness/moto';
import { MotoClients, SeedOptions, SeededEnvironment, motoClients, seedEnvironment } from './harness/seed-environment';
import { CALLED, RunOptions, lineOf, runValidate } from './harness/validate-run';

let moto: Moto;
let lb: LoadBalancerServer;
let aws: MotoClients;

beforeAll(async () => {
  [moto, lb] = await Promise.all([startMoto(), startLoadBalancerServer()]);
  aws = motoClients(moto.endpoint);
});

afterAll(async () => {
  await Promise.all([moto?.stop(), lb?.stop()]);
});

/** Seeds an environment with two services (web, api) on `<name>.example.test`, and serves its load balancer. */
async function seed(name: string, options: Partial<SeedOptions> = {}): Promise<SeededEnvironment> {
  const domain = options.domain === undefined ? `${name}.example.test` : options.domain;
  const env = await seedEnvironment(aws, { name, domain, services: [{ name: 'web' }, { name: 'api' }], ...options });
  if (domain) lb.addSite({ domain });
  return env;
}

const run = (name: string, options?: RunOptions) => runValidate(moto.endpoint, lb, ['validate', name], options);

describe('a correctly built environment', () => {
  test('passes every check, one line each, and exits 0', async () => {
    await seed('good');
    const result = await run('good');
    expect(result.stderr).toBe('');
    expect(result.stdout).toMatch(/^Environment 'good' in eu-west-1 \(stack good-stack, 2 services\)\n/);
    for (const check of ['network', 'load-balancer', 'certificate', 'alarms', 'alarm-topic']) {
      expect(lineOf(result.stdout, check)).toMatch(/^✓ /);
    }
    for (const service of ['api', 'web']) {
      for (const check of ['route', 'targets', 'image', 'execution-role', 'secrets', 'stable', 'logs']) {
        expect(lineOf(result.stdout, `${service} ${check}`)).toMatch(/^✓ /);
      }
    }
    expect(result.stdout).toMatch(/\nOK: 19 passed, 0 failed, 0 asleep, 0 skipped \(\d+\.\d s\)\n$/);
    expect(result.code).toBe(0);
    console.log(result.stdout);
  });
});

test('read-only: every call validate made is a read', () => {
  expect(CALLED.size).toBeGreaterThan(0);
  for (const action of CALLED) {
    expect(action).toMatch(/^[a-z0-9-]+:(Describe|List|Get|Simulate|Head|BatchGet|Filter)/);
  }
});
