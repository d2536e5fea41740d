/**
 * actionlint (Go module) and zizmor (PyPI), pinned, installed once by the jest global setup into
 * ignored folders of the checkout, and run over rendered GitHub Actions workflows.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { REPO_ROOT } from './cfn-lint';
import { installPipTool } from './pip';

export const ACTIONLINT_VERSION = '1.7.12';
export const ZIZMOR_VERSION = '1.32.0';
const TOOLS_BIN = path.join(REPO_ROOT, '.tools', 'bin');
const ACTIONLINT_BIN = path.join(TOOLS_BIN, 'actionlint');
const ZIZMOR_VENV = path.join(REPO_ROOT, '.venv-zizmor');
const ZIZMOR_BIN = path.join(ZIZMOR_VENV, 'bin', 'zizmor');

/** Installs the pinned actionlint and zizmor unless they are there already. */
export function ensureWorkflowLinters(): void {
  const actionlintVersion = fs.existsSync(ACTIONLINT_BIN) ? spawnSync(ACTIONLINT_BIN, ['-version'], { encoding: 'utf8' }).stdout : '';
  if (!actionlintVersion.includes(ACTIONLINT_VERSION)) {
    run('go', ['install', `github.com/rhysd/actionlint/cmd/actionlint@v${ACTIONLINT_VERSION}`], { ...process.env, GOBIN: TOOLS_BIN });
  }
  const zizmorVersion = fs.existsSync(ZIZMOR_BIN) ? spawnSync(ZIZMOR_BIN, ['--version'], { encoding: 'utf8' }).stdout : '';
  if (!zizmorVersion.includes(ZIZMOR_VERSION)) {
    installPipTool(ZIZMOR_VENV, `zizmor==${ZIZMOR_VERSION}`);
  }
}

/** What a linter printed, and whether it found anything. */
export interface LintResult {
  readonly findings: boolean;
  readonly output: string;
}

/** actionlint over one workflow file: shellcheck is used when installed (it is not required). */
export function actionlint(file: string): LintResult {
  const result = spawnSync(ACTIONLINT_BIN, ['-no-color', file], { encoding: 'utf8' });
  if (result.error || (result.status !== 0 && result.status !== 1)) {
    throw new Error(`actionlint failed (exit ${result.status}): ${result.error?.message ?? result.stderr}`);
  }
  return { findings: result.status === 1, output: result.stdout + result.stderr };
}

/** zizmor (offline: no GitHub API here) over workflow files or folders, every severity unless `minSeverity` is given. */
export function zizmor(file: string, minSeverity?: 'low' | 'medium' | 'high'): LintResult {
  const args = ['--offline', '--no-progress', '--format', 'plain', ...(minSeverity ? ['--min-severity', minSeverity] : []), file];
  const result = spawnSync(ZIZMOR_BIN, args, { encoding: 'utf8' });
  if (result.error || result.status === 1 || result.status === 2) {
    throw new Error(`zizmor failed (exit ${result.status}): ${result.error?.message ?? result.stderr}`);
  }
  // Exit 0: no finding; 10-14: findings of rising severity (zizmor's exit codes).
  return { findings: result.status !== 0, output: result.stdout + result.stderr };
}

function run(command: string, args: string[], env?: NodeJS.ProcessEnv): void {
  const result = spawnSync(command, args, { stdio: 'inherit', env });
  if (result.status !== 0) {
    throw new Error(`${command} ${args.join(' ')} failed with exit ${result.status}`);
  }
}
