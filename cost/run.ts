/**
 * `npx projen cost`: prints the monthly estimate of each profile, line by line, and whether the
 * goals hold (exit 1 when one does not). `npx projen cost --write` also regenerates the README's
 * cost section.
 */
import * as fs from 'fs';
import * as path from 'path';
import { estimatePreview, PREVIEW_GOAL_USD_PER_DAY } from './preview';
import { HOURS_PER_MONTH } from './prices';
import { estimateProfiles, renderCostSection, replaceCostSection } from './report';

const estimates = estimateProfiles();
let goalsMet = true;
for (const e of estimates) {
  const goal = e.profile.goalUsd;
  const verdict = goal === undefined ? '' : e.totalUsd < goal ? `  (goal < ${goal}: met)` : `  (goal < ${goal}: MISSED)`;
  goalsMet = goalsMet && (goal === undefined || e.totalUsd < goal);
  console.log(`${e.profile.name}: USD ${e.totalUsd.toFixed(2)} a month${verdict}`);
  for (const line of e.lines) {
    console.log(`  ${line.usdPerMonth.toFixed(2).padStart(8)}  ${line.item}`);
  }
}
const preview = estimatePreview();
const previewMet = preview.usdPerDay < PREVIEW_GOAL_USD_PER_DAY;
goalsMet = goalsMet && previewMet;
console.log(`preview (examples/preview.ts): USD ${preview.usdPerDay.toFixed(3)} a day  (goal < ${PREVIEW_GOAL_USD_PER_DAY}: ${previewMet ? 'met' : 'MISSED'})`);
for (const line of preview.lines) {
  console.log(`  ${(line.usdPerMonth / HOURS_PER_MONTH * 24).toFixed(3).padStart(8)}  ${line.item} (a day)`);
}
const section = renderCostSection(estimates);
if (process.argv.includes('--write')) {
  const readmePath = path.join(__dirname, '..', 'README.md');
  fs.writeFileSync(readmePath, replaceCostSection(fs.readFileSync(readmePath, 'utf8'), section));
  console.log('README.md: cost section written');
}
process.exit(goalsMet ? 0 : 1);
