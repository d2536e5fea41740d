/**
 * checkov (PyPI, pinned), installed once by the jest global setup into .venv-checkov, over
 * synthesized CloudFormation templates. It honours the skip metadata the library writes on a
 * resource (`Metadata.checkov.skip[]`, with the same reason as the cdk-nag/Control Tower acknowledgement).
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { REPO_ROOT } from './cfn-lint';
import { installPipTool } from './pip';

export const CHECKOV_VERSION = '3.3.30';
const VENV = path.join(REPO_ROOT, '.venv-checkov');
const BIN = path.join(VENV, 'bin', 'checkov');

/** Installs the pinned checkov unless it is there already. */
export function ensureCheckov(): void {
  const version = fs.existsSync(BIN) ? spawnSync(BIN, ['--version'], { encoding: 'utf8' }).stdout : '';
  if (version.includes(CHECKOV_VERSION)) {
    return;
  }
  installPipTool(VENV, `checkov==${CHECKOV_VERSION}`);
}

/** One failed check. */
export interface CheckovFinding {
  readonly checkId: string;
  readonly resource: string;
  readonly file: string;
}

/** Runs checkov over the templates and returns every failed check (skipped ones are not failed). */
export function checkov(templates: string[]): CheckovFinding[] {
  const args = ['--framework', 'cloudformation', '-o', 'json', '--compact', '--quiet', ...templates.flatMap((t) => ['-f', t])];
  const result = spawnSync(BIN, args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  // Exit 0: no failed check; 1: failed checks. Anything else, or no JSON, is checkov failing.
  if (result.error || (result.status !== 0 && result.status !== 1) || !result.stdout.trim()) {
    throw new Error(`checkov failed (exit ${result.status}): ${result.error?.message ?? result.stderr}`);
  }
  const parsed = JSON.parse(result.stdout);
  const reports: any[] = Array.isArray(parsed) ? parsed : [parsed];
  return reports.flatMap((r) => (r.results?.failed_checks ?? []).map((f: any) => ({
    checkId: f.check_id,
    resource: f.resource,
    file: path.basename(f.file_path),
  })));
}
