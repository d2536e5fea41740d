/**
 * The bin as users get it: the bundle the compile task writes (bundle:cli), packed with `npm pack`,
 * installed into an empty folder and run from node_modules/.bin against moto, with nothing beside it
 * (the AWS SDK is inside the bundle).
 */
import { spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { LoadBalancerServer, startLoadBalancerServer } from './harness/load-balancer-server';
import { FAKE_CREDENTIALS, MOTO_REGION, Moto, startMoto } from './harness/moto';
import { motoClients, seedEnvironment } from './harness/seed-environment';

const ROOT = path.resolve(__dirname, '..');
let moto: Moto;
let lb: LoadBalancerServer;
let work: string;
let bin: string;

beforeAll(async () => {
  [moto, lb] = await Promise.all([startMoto(), startLoadBalancerServer()]);
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'validate-package-'));
  const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
  const packageDir = path.join(work, 'package');
  // The compile task's own bundling step, writing into the package folder instead of lib/.
  const exec: string = JSON.parse(fs.readFileSync(path.join(ROOT, '.projen', 'tasks.json'), 'utf8')).tasks['bundle:cli'].steps[0].exec;
  const outfile = path.join(packageDir, pkg.bin['cdk-ecs-staging']);
  const args = exec.split(' ').slice(1).map((a) => (a === '--outfile=lib/cli/validate.js' ? `--outfile=${outfile}` : a));
  expect(args).toContain(`--outfile=${outfile}`);
  const esbuild = spawnSync(path.join(ROOT, 'node_modules', '.bin', 'esbuild'), args, { cwd: ROOT, encoding: 'utf8' });
  expect(esbuild.stderr).toBe('');
  // The package's name, version and bin; no dependencies: the bundle needs none.
  fs.writeFileSync(path.join(packageDir, 'package.json'), JSON.stringify({ name: pkg.name, version: pkg.version, bin: pkg.bin, license: pkg.license }));
  const pack = spawnSync('npm', ['pack', '--silent', '--pack-destination', work], { cwd: packageDir, encoding: 'utf8' });
  expect(pack.status).toBe(0);
  const tarball = path.join(work, pack.stdout.trim().split('\n').pop()!);
  const app = path.join(work, 'app');
  fs.mkdirSync(app);
  fs.writeFileSync(path.join(app, 'package.json'), '{"name":"app","private":true}');
  const install = spawnSync('npm', ['install', '--offline', '--no-audit', '--no-fund', '--silent', tarball], { cwd: app, encoding: 'utf8' });
  expect(install.status).toBe(0);
  bin = path.join(app, 'node_modules', '.bin', 'cdk-ecs-staging');

  const aws = motoClients(moto.endpoint);
  await seedEnvironment(aws, { name: 'packed', domain: 'packed.example.test', services: [{ name: 'web' }] });
  lb.addSite({ domain: 'packed.example.test' });
});

afterAll(async () => {
  await Promise.all([moto?.stop(), lb?.stop()]);
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

/**
 * Runs the installed bin, as a person would, with moto as the endpoint and the tests' load balancer
 * (asynchronously: the load balancer's stand-in answers from this process).
 */
function runBin(args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  const child = spawn(bin, args, {
    cwd: os.tmpdir(),
    env: {
      PATH: process.env.PATH,
      HOME: work,
      AWS_ENDPOINT_URL: moto.endpoint,
      AWS_ACCESS_KEY_ID: FAKE_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: FAKE_CREDENTIALS.secretAccessKey,
      AWS_EC2_METADATA_DISABLED: 'true',
      // Test-only (src/cli/http.ts): the load balancer's ports 80 and 443 are the tests' own server.
      CDK_ECS_STAGING_VALIDATE_TEST_LB: `${lb.http.host}:${lb.http.port},${lb.https.host}:${lb.https.port}`,
      NODE_EXTRA_CA_CERTS: lb.caFile,
    },
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => { stdout += d; });
  child.stderr.on('data', (d) => { stderr += d; });
  return new Promise((resolve) => child.on('close', (status) => resolve({ status, stdout, stderr })));
}

test('the installed bin validates an environment in moto', async () => {
  const result = await runBin(['validate', 'packed', '--region', MOTO_REGION]);
  expect(result.stderr).toBe('');
  const lines = result.stdout.split('\n');
  expect(lines[0]).toBe(`Environment 'packed' in ${MOTO_REGION} (stack packed-stack, 1 service)`);
  for (const check of ['network', 'load-balancer', 'certificate', 'alarms', 'alarm-topic', 'web route', 'web targets', 'web image', 'web logs']) {
    expect(lines.find((l) => l.startsWith(`✓ ${check}: `))).toBeDefined();
  }
  // Without the tests' recorded answers, the two operations moto 5.2.5 lacks fail their checks
  // (iam:SimulatePrincipalPolicy, ecs:ListServiceDeployments): the bin reports them in one line each.
  for (const check of ['web execution-role', 'web secrets', 'web stable']) {
    expect(lines.find((l) => l.startsWith(`✗ ${check}: could not check: `))).toBeDefined();
  }
  expect(result.stdout).not.toMatch(/\n\s+at /);
  expect(result.status).toBe(1);
});

test('the installed bin says in one line, exit code 2, that an environment is not there', async () => {
  const result = await runBin(['validate', 'absent', '--region', MOTO_REGION]);
  expect(result.stdout).toBe('');
  expect(result.stderr).toMatch(/^cdk-ecs-staging validate: no environment 'absent' in eu-west-1: no parameters under \/absent\/_environment\/ [^\n]*\n$/);
  expect(result.status).toBe(2);
});

test('--version and --help', async () => {
  const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
  expect((await runBin(['--version'])).stdout).toBe(`${pkg.version}\n`);
  const help = await runBin(['validate', '--help']);
  expect(help.stdout).toMatch(/^Usage: npx cdk-ecs-staging validate <environment> \[--region <region>\] \[--profile <profile>\] \[--json\]\n/);
  expect(help.status).toBe(0);
});
