/**
 * Shared by the benchmark's child scripts: time one build + synth, then report
 * a single JSON line on stdout for the driver (run.ts) to parse.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { App } from 'aws-cdk-lib';
import * as cxapi from 'aws-cdk-lib/cx-api';

/** What one child measurement reports. */
export interface Sample {
  /** Wall time of construct tree build + `app.synth()`, in milliseconds. */
  readonly wallMs: number;
  /** Peak resident set size of the whole child process, in KiB. */
  readonly maxRssKiB: number;
  /** Number of resources across all synthesized templates. */
  readonly resources: number;
  /** Total size of the synthesized templates, in bytes. */
  readonly templateBytes: number;
}

/**
 * Builds and synthesizes the app returned by `build` into a fresh temp dir,
 * prints the resulting `Sample` as JSON and removes the temp dir.
 * Call it after all imports are loaded, so module loading is not timed.
 */
export function measure(build: (outdir: string) => App): void {
  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'cdk-ecs-staging-bench-'));
  try {
    const start = process.hrtime.bigint();
    const assembly = build(outdir).synth();
    const wallMs = Number(process.hrtime.bigint() - start) / 1e6;

    // Not timed: count what was synthesized.
    let resources = 0;
    let templateBytes = 0;
    // Every template, nested stacks' included (they sit beside their parents').
    const templates = [
      ...assembly.stacksRecursively.map((stack) => stack.templateFullPath),
      ...fs.readdirSync(assembly.directory).filter((f) => f.endsWith('.nested.template.json')).map((f) => path.join(assembly.directory, f)),
    ];
    for (const file of templates) {
      resources += Object.keys(JSON.parse(fs.readFileSync(file, 'utf8')).Resources ?? {}).length;
      templateBytes += fs.statSync(file).size;
    }

    const sample: Sample = { wallMs, maxRssKiB: process.resourceUsage().maxRSS, resources, templateBytes };
    process.stdout.write(JSON.stringify(sample) + '\n');
  } finally {
    fs.rmSync(outdir, { recursive: true, force: true });
  }
}

/**
 * The app context of a measurement: with `BENCH_FEATURE_FLAGS=recommended`, the feature flags that
 * `cdk init` writes into a new app's cdk.json (aws-cdk-lib's currently recommended flags); else none.
 */
export function benchContext(): Record<string, unknown> | undefined {
  return process.env.BENCH_FEATURE_FLAGS === 'recommended' ? { ...cxapi.CURRENTLY_RECOMMENDED_FLAGS } : undefined;
}
