/**
 * cfn-lint (PyPI, pinned in CFN_LINT_VERSION) over synthesized templates. The venv is created once
 * by the jest global setup (`global-setup.ts`); ignored checks live in `.cfnlintrc.yaml`, each with
 * its reason.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { installPipTool } from './pip';

export const CFN_LINT_VERSION = '1.58.0';
export const REPO_ROOT = path.resolve(__dirname, '..', '..');
export const CFN_LINT_VENV = path.join(REPO_ROOT, '.venv-cfnlint');
const CFN_LINT_BIN = path.join(CFN_LINT_VENV, 'bin', 'cfn-lint');

/** One cfn-lint match. */
export interface CfnLintMatch {
  readonly Rule: { readonly Id: string; readonly Description: string };
  readonly Level: string;
  readonly Message: string;
  readonly Filename: string;
}

/** Creates the cfn-lint venv unless it already holds the pinned version. */
export function ensureCfnLint(): void {
  const version = fs.existsSync(CFN_LINT_BIN) ? spawnSync(CFN_LINT_BIN, ['--version'], { encoding: 'utf8' }).stdout : '';
  if (version.includes(CFN_LINT_VERSION)) {
    return;
  }
  installPipTool(CFN_LINT_VENV, `cfn-lint==${CFN_LINT_VERSION}`);
}

/** Lints the templates and returns every match (errors and warnings; informational matches are not reported). */
export function cfnLint(templates: string[]): CfnLintMatch[] {
  if (templates.length === 0) {
    throw new Error('cfnLint: no templates given');
  }
  const result = spawnSync(CFN_LINT_BIN, ['--format', 'json', '--config-file', path.join(REPO_ROOT, '.cfnlintrc.yaml'), '--', ...templates], {
    encoding: 'utf8',
    cwd: REPO_ROOT,
    maxBuffer: 64 * 1024 * 1024,
  });
  if (result.error) {
    throw result.error;
  }
  // Exit codes are a bit mask (2 error, 4 warning, 8 informational); 1 means cfn-lint itself failed.
  if (result.status === 1 || result.stdout.trim() === '') {
    throw new Error(`cfn-lint failed (exit ${result.status}): ${result.stderr}`);
  }
  return JSON.parse(result.stdout) as CfnLintMatch[];
}

/** Renders matches one per line, for test failure messages. */
export function formatMatches(matches: CfnLintMatch[]): string {
  return matches.map((m) => `${m.Level} ${m.Rule.Id} ${path.relative(REPO_ROOT, m.Filename)}: ${m.Message}`).join('\n');
}

/**
 * The permissions each handler (create, update, delete, read, list) of a CloudFormation resource
 * type calls, from the resource-type schema cfn-lint ships (`handlers.<verb>.permissions`).
 */
export function handlerPermissions(type: string): { [verb: string]: string[] } {
  const site = fs.readdirSync(path.join(CFN_LINT_VENV, 'lib')).map((d) => path.join(CFN_LINT_VENV, 'lib', d, 'site-packages', 'cfnlint', 'data', 'schemas'))
    .find((d) => fs.existsSync(d))!;
  const index = JSON.parse(fs.readFileSync(path.join(site, 'providers', 'us-east-1.json'), 'utf8'));
  const schema = JSON.parse(fs.readFileSync(path.join(site, 'resources', `${index[type]}.json`), 'utf8'));
  return Object.fromEntries(Object.entries(schema.handlers as Record<string, { permissions: string[] }>).map(([verb, h]) => [verb, h.permissions]));
}
