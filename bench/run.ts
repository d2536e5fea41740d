/**
 * Benchmark driver (`npx projen bench [--rounds N]`): synth time and peak memory of the
 * example app ("ours") against an equivalent aws-ecs-patterns service ("baseline").
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

type Subject = 'ours' | 'baseline';
const SCRIPTS: Record<Subject, string> = {
  ours: path.join(__dirname, 'child-ours.js'),
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
function runChild(subject: Subject | number): Sample {
  const args = typeof subject === 'number' ? [SCALE_SCRIPT, String(subject)] : [SCRIPTS[subject]];
  const child = spawnSync(process.execPath, args, { encoding: 'utf8' });
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
  runChild('ours');
  runChild('baseline');

  // Measured rounds; the order flips every round so neither side always runs first.
  const samples: Record<Subject, Sample[]> = { ours: [], baseline: [] };
  for (let round = 0; round < rounds; round++) {
    const order: Subject[] = round % 2 === 0 ? ['ours', 'baseline'] : ['baseline', 'ours'];
    for (const subject of order) samples[subject].push(runChild(subject));
  }

  const ours = summarize(samples.ours);
  const baseline = summarize(samples.baseline);
  const wallRatio = ours.wallMs / baseline.wallMs;
  const rssRatio = ours.peakRssMiB / baseline.peakRssMiB;
  const withinTarget = wallRatio <= TARGET_RATIO && rssRatio <= TARGET_RATIO;

  const row = (cells: string[]) => cells[0].padEnd(14) + cells.slice(1).map((c) => c.padStart(16)).join('');
  console.log(`Synth benchmark: medians of ${rounds} rounds, Node ${process.version}`);
  console.log(row(['', 'synth wall ms', 'peak RSS MiB', 'resources', 'template KB']));
  for (const [name, s] of [['ours', ours], ['baseline', baseline]] as const) {
    console.log(row([name, s.wallMs.toFixed(1), s.peakRssMiB.toFixed(1), String(s.resources), s.templateKB.toFixed(1)]));
  }
  console.log(row(['ours/baseline', `${wallRatio.toFixed(2)}x`, `${rssRatio.toFixed(2)}x`]));
  console.log(`Target (issue): ours at most ${TARGET_RATIO}x baseline wall time and ${TARGET_RATIO}x peak memory: `
    + (withinTarget ? 'within target' : 'over target'));

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

  const result = {
    rounds,
    node: process.version,
    ours,
    baseline,
    ratios: { wall: wallRatio, peakRss: rssRatio },
    target: { maxRatio: TARGET_RATIO, withinTarget },
    scale: { sizes: scale.map(({ samples: _, ...s }) => s), ratio: scaleRatio, target: { maxRatio: SCALE_TARGET_RATIO, withinTarget: scaleWithin } },
  };
  const resultFile = path.join(__dirname, '..', 'bench-result.json');
  fs.writeFileSync(resultFile, JSON.stringify(result, null, 2) + '\n');
  console.log(`Figures written to ${path.relative(process.cwd(), resultFile)}`);
}

main();
