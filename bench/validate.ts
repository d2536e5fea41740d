/**
 * Benchmark of `cdk-ecs-staging validate` (`npx projen bench:validate [--rounds N] [--services N]`):
 * the wall time of one validation of an environment of N services (default 10; the issue's target:
 * under 15 s) against moto's server, seeded as the tests seed it (test/harness/seed-environment.ts),
 * with the tests' load balancer stand-in and their answers for the two operations moto lacks.
 * Prints the median and every round, and exits 0 whatever the figures are (1 when a run fails).
 */
import { startLoadBalancerServer } from '../test/harness/load-balancer-server';
import { startMoto } from '../test/harness/moto';
import { motoClients, seedEnvironment } from '../test/harness/seed-environment';
import { runValidate } from '../test/harness/validate-run';

// The SDK's notice about the Node versions of its later releases (see src/cli/validate.ts, main).
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

/** The target for a 10-service environment against the emulator. */
const TARGET_SECONDS = 15;

function option(name: string, fallback: number): number {
  const argv = process.argv.slice(2);
  const i = argv.findIndex((a) => a === `--${name}` || a.startsWith(`--${name}=`));
  if (i < 0) return fallback;
  const value = Number(argv[i].includes('=') ? argv[i].split('=')[1] : argv[i + 1]);
  if (!Number.isInteger(value) || value < 1) {
    console.error(`--${name} must be a positive integer`);
    process.exit(2);
  }
  return value;
}

async function main(): Promise<number> {
  const rounds = option('rounds', 5);
  const services = option('services', 10);
  const [moto, lb] = await Promise.all([startMoto(), startLoadBalancerServer()]);
  try {
    const domain = 'bench.example.test';
    await seedEnvironment(motoClients(moto.endpoint), {
      name: 'bench', domain, services: Array.from({ length: services }, (_, i) => ({ name: `svc${String(i + 1).padStart(2, '0')}` })),
    });
    lb.addSite({ domain });
    // Untimed warm-up (module loading, moto's first answers).
    await runValidate(moto.endpoint, lb, ['validate', 'bench']);
    const seconds: number[] = [];
    let summary = '';
    for (let round = 0; round < rounds; round++) {
      const started = process.hrtime.bigint();
      const result = await runValidate(moto.endpoint, lb, ['validate', 'bench']);
      seconds.push(Number(process.hrtime.bigint() - started) / 1e9);
      summary = result.stdout.trim().split('\n').pop() ?? '';
      if (result.code !== 0) {
        console.error(`bench:validate: round ${round + 1} exited ${result.code}\n${result.stdout}${result.stderr}`);
        return 1;
      }
    }
    const median = [...seconds].sort((a, b) => a - b)[Math.floor(seconds.length / 2)];
    console.log(`validate, ${services} services against moto (Node ${process.version}): median ${median.toFixed(2)} s of ${rounds} rounds `
      + `(${seconds.map((s) => s.toFixed(2)).join(', ')}); last run: ${summary}`);
    console.log(`Target (issue): a 10-service environment under ${TARGET_SECONDS} s: ${median < TARGET_SECONDS ? 'within target' : 'over target'}`);
    return 0;
  } finally {
    await Promise.all([moto.stop(), lb.stop()]);
  }
}

main().then((code) => { process.exitCode = code; }, (error) => {
  console.error(`bench:validate: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
});
