#!/usr/bin/env node
/**
 * `npx cdk-ecs-staging validate <environment>`: checks a deployed environment against the
 * walkthrough's validation checklist with read-only AWS calls, and says how to fix what fails.
 *
 * Not part of the library's API (src/index.ts does not export it, jsii does not compile it): the
 * package's `bin` runs lib/cli/validate.js, this file and the AWS SDK bundled into one by esbuild.
 */
import * as fs from 'fs';
import * as path from 'path';
import { AwsClients, CallHook, errorMessage } from './aws';
import { CheckResult, checksOf, runChecks } from './checks';
import { CannotRun, discover } from './discover';
import { LoadBalancerAddress, TEST_LOAD_BALANCER_VARIABLE, testLoadBalancerAddress } from './http';

/** Exit codes: every check holds, a check fails, validate could not run. */
export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_CANNOT_RUN = 2;

/** Checks run at once; each makes a few calls, which the SDK retries when AWS throttles them. */
const DEFAULT_CONCURRENCY = 16;

const USAGE = `Usage: npx cdk-ecs-staging validate <environment> [--region <region>] [--profile <profile>] [--json]

Checks a deployed cdk-ecs-staging environment with read-only AWS calls: network, load balancer,
certificate, targets, images, roles, secrets, deployments, logs and alarms. Finds the environment
by its name (environmentName) in the region. Credentials: the AWS SDK's standard chain.

Options:
  --region <region>    the environment's region (default: AWS_REGION, or the profile's region)
  --profile <profile>  a profile of ~/.aws/config (default: AWS_PROFILE, or the default chain)
  --json               print the results as JSON on stdout
  --help               print this help
  --version            print the version

Exit code: 0 when every check holds, 1 when a check fails, 2 when validate could not run.`;

/** Where validate writes, and what it reads of its environment. */
export interface ValidateIo {
  readonly stdout: { isTTY?: boolean; write(text: string): unknown };
  readonly stderr: { isTTY?: boolean; write(text: string): unknown };
  readonly env: { [key: string]: string | undefined };
}

/**
 * FOR TESTS ONLY, not reachable from the command line: answers to AWS calls the emulator lacks
 * (see CallHook), the load balancer's address, and the time the schedule is compared with.
 */
export interface ValidateTestHooks {
  readonly onCall?: CallHook;
  readonly loadBalancer?: LoadBalancerAddress;
  readonly now?: Date;
}

interface Arguments {
  readonly environment?: string;
  readonly region?: string;
  readonly profile?: string;
  readonly json: boolean;
  readonly help: boolean;
  readonly version: boolean;
}

function parseArguments(argv: string[]): Arguments {
  const args = [...argv];
  if (args[0] === 'validate') {
    args.shift();
  } else if (args.length > 0 && !args[0].startsWith('-')) {
    throw new CannotRun(`unknown command '${args[0]}': the command is 'validate' (npx cdk-ecs-staging validate <environment>)`);
  }
  let environment: string | undefined;
  let region: string | undefined;
  let profile: string | undefined;
  let json = false;
  let help = false;
  let version = false;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    const [flag, inline] = arg.startsWith('--') && arg.includes('=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, undefined];
    const value = () => {
      const v = inline ?? args[++i];
      if (v === undefined || v === '') throw new CannotRun(`${flag} needs a value (see --help)`);
      return v;
    };
    if (flag === '--region') region = value();
    else if (flag === '--profile') profile = value();
    else if (flag === '--json') json = true;
    else if (flag === '--help' || flag === '-h') help = true;
    else if (flag === '--version') version = true;
    else if (flag.startsWith('-')) throw new CannotRun(`unknown option '${flag}' (see --help)`);
    else if (environment === undefined) environment = arg;
    else throw new CannotRun(`one environment at a time (got '${environment}' and '${arg}')`);
  }
  return { environment, region, profile, json, help, version };
}

/** The package's version (package.json two folders up, from src/cli/ and from lib/cli/ alike). */
function packageVersion(): string {
  try {
    return JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'package.json'), 'utf8')).version;
  } catch {
    return 'unknown';
  }
}

const MARKS: { [status: string]: string } = { pass: '✓', fail: '✗', asleep: 'asleep', skipped: 'skipped' };

function line(r: CheckResult): string {
  const where = r.service ? `${r.service} ${r.id}` : r.id;
  const head = `${MARKS[r.status]} ${where}: ${r.summary}`;
  return r.fix ? `${head}\n    fix: ${r.fix}` : head;
}

/** Runs validate with these arguments and returns the exit code; never throws. */
export async function validate(argv: string[], io: ValidateIo, hooks: ValidateTestHooks = {}): Promise<number> {
  let args: Arguments | undefined;
  let aws: AwsClients | undefined;
  const started = Date.now();
  try {
    args = parseArguments(argv);
    if (args.help) {
      io.stdout.write(`${USAGE}\n`);
      return EXIT_OK;
    }
    if (args.version) {
      io.stdout.write(`${packageVersion()}\n`);
      return EXIT_OK;
    }
    if (!args.environment) throw new CannotRun('name the environment: npx cdk-ecs-staging validate <environment> (see --help)');
    if (!/^[a-z][a-z0-9-]*$/.test(args.environment)) {
      throw new CannotRun(`'${args.environment}' is not an environment name (lowercase letters, digits and hyphens, starting with a letter)`);
    }
    aws = new AwsClients({ region: args.region, profile: args.profile ?? io.env.AWS_PROFILE, hook: hooks.onCall });
    let region: string;
    try {
      region = await aws.region();
    } catch {
      throw new CannotRun('no region: pass --region or set AWS_REGION (or a region in the profile)');
    }
    const progress = !args.json && io.stderr.isTTY === true;
    if (progress) io.stderr.write(`Finding environment '${args.environment}' in ${region}...\n`);
    const env = await discover(aws, args.environment, region, packageVersion(), args.profile);
    const checks = checksOf(aws, env, {
      loadBalancer: hooks.loadBalancer ?? testLoadBalancerAddress(io.env[TEST_LOAD_BALANCER_VARIABLE]),
      now: hooks.now ?? new Date(),
    });
    const results = await runChecks(checks, DEFAULT_CONCURRENCY, (done, total) => {
      if (progress) io.stderr.write(`\rChecking ${done}/${total}${done === total ? '\n' : ''}`);
    }, args.profile);
    const count = (status: string) => results.filter((r) => r.status === status).length;
    const summary = { passed: count('pass'), failed: count('fail'), asleep: count('asleep'), skipped: count('skipped') };
    const seconds = (Date.now() - started) / 1000;
    if (args.json) {
      io.stdout.write(`${JSON.stringify({
        environment: env.name,
        region,
        stackName: env.stackName,
        services: env.services.map((s) => s.name),
        checks: results,
        summary,
        seconds,
      }, undefined, 2)}\n`);
    } else {
      io.stdout.write(`Environment '${env.name}' in ${region} (stack ${env.stackName}, ${env.services.length} service${env.services.length === 1 ? '' : 's'})\n`);
      for (const r of results) io.stdout.write(`${line(r)}\n`);
      io.stdout.write(`${summary.failed === 0 ? 'OK' : 'FAILED'}: ${summary.passed} passed, ${summary.failed} failed, ${summary.asleep} asleep, ${summary.skipped} skipped (${seconds.toFixed(1)} s)\n`);
    }
    return summary.failed === 0 ? EXIT_OK : EXIT_FAILED;
  } catch (error) {
    const message = error instanceof CannotRun ? error.message : `unexpected error: ${errorMessage(error)}`;
    if (args?.json) io.stdout.write(`${JSON.stringify({ error: message })}\n`);
    io.stderr.write(`cdk-ecs-staging validate: ${message}\n`);
    return EXIT_CANNOT_RUN;
  } finally {
    aws?.destroy();
  }
}

/** The command line entry: `cdk-ecs-staging validate ...`. */
export function main(): void {
  // The SDK is bundled at build time: its notice that later SDK releases will need a newer Node concerns
  // the package's build, not the person running the command.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  void validate(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, env: process.env }).then((code) => {
    process.exitCode = code;
  });
}

if (require.main === module) {
  main();
}
