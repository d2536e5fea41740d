/**
 * Benchmark driver (`npx projen bench [--rounds N]`): synth time and peak memory of the default
 * environment ("default": HTTPS, one autoscaled service, every default on) and of the example app
 * ("example": the same plus config, a secret and a GitHub deploy role) against an equivalent
 * aws-ecs-patterns service ("baseline"). The target applies to the default environment. The
 * default/baseline comparison runs a second time in apps with the feature flags `cdk init` writes.
 *
 * Each measurement runs in a fresh Node process; rounds alternate between the two.
 * Prints a table, writes the same figures to .bench-build/bench-result.json and exits 0
 * whatever the figures are (exit 1 only when a child crashes).
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import type { Sample } from './measure';

/** The target: ours at most this many times the baseline's wall time and peak memory. */
const TARGET_RATIO = 1.5;
const DEFAULT_ROUNDS = 7;
/** Environment sizes of the scale benchmark, and its target: the largest within 8x the smallest's synth time. */
const SCALE_SIZES = [1, 10, 50];
const SCALE_TARGET_RATIO = 8;
const SCALE_SCRIPT = path.join(__dirname, 'child-scale.js');

type Subject = 'default' | 'example' | 'baseline';
const SUBJECTS: Subject[] = ['default', 'example', 'baseline'];
const SCRIPTS: Record<Subject, string> = {
  default: path.join(__dirname, 'child-default.js'),
  example: path.join(__dirname, 'child-ours.js'),
  baseline: path.join(__dirname, 'child-baseline.js'),
};

/** Reads `--rounds N` (or `--rounds=N`) from the command line. */
function parseRounds(argv: string[]): number {
  const i = argv.findIndex((a) => a === '--rounds' || a.startsWith('--rounds='));
  if (i < 0) return DEFAULT_ROUNDS;
  const value = argv[i].includes('=') ? argv[i].split('=')[1] : argv[i + 1];
  const rounds = Number(value);
  if (!Number.isInteger(rounds) || rounds < 1) {
    console.error(`--rounds must be a positive integer, got '${value}'`);
    process.exit(2);
  }
  return rounds;
}

/** Runs one child process and returns its sample; exits 1 with its stderr if it crashes. */
function runChild(subject: Subject | number, featureFlags = false): Sample {
  const args = typeof subject === 'number' ? [SCALE_SCRIPT, String(subject)] : [SCRIPTS[subject]];
  const env = { ...process.env, BENCH_FEATURE_FLAGS: featureFlags ? 'recommended' : '' };
  const child = spawnSync(process.execPath, args, { encoding: 'utf8', env });
  const lastLine = child.stdout?.trim().split('\n').pop();
  if (child.status !== 0 || !lastLine) {
    console.error(`bench: ${subject} child failed (status ${child.status}, signal ${child.signal})`);
    console.error(child.error?.message ?? child.stderr);
    process.exit(1);
  }
  return JSON.parse(lastLine) as Sample;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** Median figures of one subject's samples. */
function summarize(samples: Sample[]) {
  return {
    wallMs: median(samples.map((s) => s.wallMs)),
    peakRssMiB: median(samples.map((s) => s.maxRssKiB)) / 1024,
    resources: samples[0].resources,
    templateKB: samples[0].templateBytes / 1024,
    samples,
  };
}

function main(): void {
  const rounds = parseRounds(process.argv.slice(2));

  // Untimed warm-up of each (file cache, compile cache).
  for (const subject of SUBJECTS) runChild(subject);

  // Measured rounds; the order rotates every round so no subject always runs first.
  const samples: Record<Subject, Sample[]> = { default: [], example: [], baseline: [] };
  for (let round = 0; round < rounds; round++) {
    const order = [...SUBJECTS.slice(round % SUBJECTS.length), ...SUBJECTS.slice(0, round % SUBJECTS.length)];
    for (const subject of order) samples[subject].push(runChild(subject));
  }

  const summaries = { default: summarize(samples.default), example: summarize(samples.example), baseline: summarize(samples.baseline) };
  const baseline = summaries.baseline;
  const ratios = (s: ReturnType<typeof summarize>) => ({ wall: s.wallMs / baseline.wallMs, peakRss: s.peakRssMiB / baseline.peakRssMiB });
  const defaultRatios = ratios(summaries.default);
  const exampleRatios = ratios(summaries.example);
  const withinTarget = defaultRatios.wall <= TARGET_RATIO && defaultRatios.peakRss <= TARGET_RATIO;

  const row = (cells: string[]) => cells[0].padEnd(18) + cells.slice(1).map((c) => c.padStart(16)).join('');
  console.log(`Synth benchmark: medians of ${rounds} rounds, Node ${process.version}`);
  console.log(row(['', 'synth wall ms', 'peak RSS MiB', 'resources', 'template KB']));
  for (const subject of SUBJECTS) {
    const s = summaries[subject];
    console.log(row([subject, s.wallMs.toFixed(1), s.peakRssMiB.toFixed(1), String(s.resources), s.templateKB.toFixed(1)]));
  }
  console.log(row(['default/baseline', `${defaultRatios.wall.toFixed(2)}x`, `${defaultRatios.peakRss.toFixed(2)}x`]));
  console.log(row(['example/baseline', `${exampleRatios.wall.toFixed(2)}x`, `${exampleRatios.peakRss.toFixed(2)}x`]));
  console.log(`Target (issue): the default environment at most ${TARGET_RATIO}x baseline wall time and ${TARGET_RATIO}x peak memory: `
    + (withinTarget ? 'within target' : 'over target'));

  // The same comparison in apps with the feature flags `cdk init` writes: there the baseline's VPC
  // also strips its default security group, with aws-cdk-lib's custom resource (the default
  // environment always does, with its own inline function).
  const FLAGGED: Subject[] = ['default', 'baseline'];
  for (const subject of FLAGGED) runChild(subject, true);
  const flagged: Record<string, Sample[]> = { default: [], baseline: [] };
  for (let round = 0; round < rounds; round++) {
    for (const subject of round % 2 ? [...FLAGGED].reverse() : FLAGGED) flagged[subject].push(runChild(subject, true));
  }
  const flaggedDefault = summarize(flagged.default);
  const flaggedBaseline = summarize(flagged.baseline);
  const flaggedRatios = { wall: flaggedDefault.wallMs / flaggedBaseline.wallMs, peakRss: flaggedDefault.peakRssMiB / flaggedBaseline.peakRssMiB };
  console.log('');
  console.log(`With the feature flags of a new app (cdk init), medians of ${rounds} rounds`);
  console.log(row(['', 'synth wall ms', 'peak RSS MiB', 'resources', 'template KB']));
  for (const [name, s] of [['default', flaggedDefault], ['baseline', flaggedBaseline]] as const) {
    console.log(row([name, s.wallMs.toFixed(1), s.peakRssMiB.toFixed(1), String(s.resources), s.templateKB.toFixed(1)]));
  }
  console.log(row(['default/baseline', `${flaggedRatios.wall.toFixed(2)}x`, `${flaggedRatios.peakRss.toFixed(2)}x`]));

  // Scale: environments of 1, 10 and 50 services, rounds interleaved by size.
  runChild(SCALE_SIZES[0]);
  const scaleSamples = new Map<number, Sample[]>(SCALE_SIZES.map((n) => [n, []]));
  for (let round = 0; round < rounds; round++) {
    for (const n of SCALE_SIZES) scaleSamples.get(n)!.push(runChild(n));
  }
  const scale = SCALE_SIZES.map((n) => ({ services: n, ...summarize(scaleSamples.get(n)!) }));
  const scaleRatio = scale[scale.length - 1].wallMs / scale[0].wallMs;
  const scaleWithin = scaleRatio <= SCALE_TARGET_RATIO;
  console.log('');
  console.log(`Scale: one environment of N services (HTTPS, autoscaling), medians of ${rounds} rounds`);
  console.log(row(['services', 'synth wall ms', 'peak RSS MiB', 'resources', 'template KB']));
  for (const s of scale) {
    console.log(row([String(s.services), s.wallMs.toFixed(1), s.peakRssMiB.toFixed(1), String(s.resources), s.templateKB.toFixed(1)]));
  }
  console.log(`Target (issue): ${SCALE_SIZES[SCALE_SIZES.length - 1]} services within ${SCALE_TARGET_RATIO}x the synth time of 1: `
    + `${scaleRatio.toFixed(2)}x, ${scaleWithin ? 'within target' : 'over target'}`);

  const strip = ({ samples: _, ...s }: ReturnType<typeof summarize>) => s;
  const result = {
    rounds,
    node: process.version,
    default: strip(summaries.default),
    example: strip(summaries.example),
    baseline: strip(baseline),
    ratios: { default: defaultRatios, example: exampleRatios },
    target: { maxRatio: TARGET_RATIO, withinTarget },
    withNewAppFeatureFlags: { default: strip(flaggedDefault), baseline: strip(flaggedBaseline), ratios: flaggedRatios },
    scale: { sizes: scale.map(({ samples: _, ...s }) => s), ratio: scaleRatio, target: { maxRatio: SCALE_TARGET_RATIO, withinTarget: scaleWithin } },
  };
  const resultFile = path.join(__dirname, '..', 'bench-result.json');
  fs.writeFileSync(resultFile, JSON.stringify(result, null, 2) + '\n');
  console.log(`Figures written to ${path.relative(process.cwd(), resultFile)}`);
}

main();
