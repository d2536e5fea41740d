import { spawnSync } from 'child_process';
import * as path from 'path';

/**
 * Creates the venv `venv` afresh and installs `requirement` (a pinned PyPI requirement such as
 * `cfn-lint==1.2.3`) into it: how the test suite installs each Python tool it runs, into an
 * ignored folder of the checkout. Throws with the failing command when either step fails.
 */
export function installPipTool(venv: string, requirement: string): void {
  for (const [command, args] of [
    ['python3', ['-m', 'venv', '--clear', venv]],
    [path.join(venv, 'bin', 'pip'), ['install', '--quiet', '--disable-pip-version-check', requirement]],
  ] as Array<[string, string[]]>) {
    const result = spawnSync(command, args, { stdio: 'inherit' });
    if (result.status !== 0) {
      throw new Error(`${command} ${args.join(' ')} failed with exit ${result.status}`);
    }
  }
}
