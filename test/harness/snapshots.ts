import * as fs from 'fs';
import * as path from 'path';
import { REPO_ROOT } from './cfn-lint';

/**
 * The templates the integ apps synthesize, as committed in their snapshots, nested ones included.
 *
 * @param testCasesOnly leave out the assertion stacks (test machinery, not the library's output)
 */
export function integSnapshotTemplates(testCasesOnly = false): string[] {
  const integDir = path.join(REPO_ROOT, 'integ');
  return fs.readdirSync(integDir)
    .filter((entry) => entry.endsWith('.snapshot'))
    .flatMap((snapshot) => fs.readdirSync(path.join(integDir, snapshot))
      .filter((file) => file.endsWith('.template.json') && !(testCasesOnly && /Assert/.test(file)))
      .map((file) => path.join(integDir, snapshot, file)));
}
