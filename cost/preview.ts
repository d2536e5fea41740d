/**
 * What a preview costs: the preview stack of the preview example (one 0.25 vCPU / 0.5 GB Fargate
 * Spot service, examples/preview.ts), priced from its template as the environments are. A preview
 * adds only its tasks: its target group and listener rule are on the environment's load balancer
 * (billed by the hour and LCU whatever the rules), and it has no NAT, endpoint or load balancer.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { CostLine, estimate, TemplateJson, total } from './estimate';
import { HOURS_PER_MONTH } from './prices';
import { buildPreviewApp } from '../examples/preview';

/** The goal: a preview of one 0.25 vCPU Spot service costs under USD 0.10 a day. */
export const PREVIEW_GOAL_USD_PER_DAY = 0.1;

/** The preview's estimate: its lines a month, and its total a day. */
export interface PreviewEstimate {
  readonly lines: CostLine[];
  readonly usdPerDay: number;
}

/** Synthesizes the preview example and prices its preview stack's template. */
export function estimatePreview(): PreviewEstimate {
  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'cdk-ecs-staging-preview-cost-'));
  try {
    const assembly = buildPreviewApp(outdir).synth();
    const previews = assembly.stacks.filter((s) => /-preview-pr-\d+$/.test(s.stackName));
    if (previews.length !== 1) {
      throw new Error(`cost: expected one preview stack in the preview example, found ${previews.length}`);
    }
    const lines = estimate([previews[0].template as TemplateJson]);
    return { lines, usdPerDay: total(lines) / HOURS_PER_MONTH * 24 };
  } finally {
    fs.rmSync(outdir, { recursive: true, force: true });
  }
}
