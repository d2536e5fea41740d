import * as fs from 'fs';
import * as path from 'path';
import { REPO_ROOT } from './harness/cfn-lint';
import { zizmor } from './harness/workflow-linters';

/** The repository's own workflows, written by projen from .projenrc.ts. */
const WORKFLOWS = path.join(REPO_ROOT, '.github', 'workflows');

describe('the repository\'s GitHub workflows', () => {
  const files = fs.readdirSync(WORKFLOWS).filter((f) => f.endsWith('.yml'));

  test('are there to check', () => {
    expect(files).toEqual(expect.arrayContaining(['build.yml', 'release.yml']));
  });

  test.each(files)('%s has no medium or high zizmor finding', (file) => {
    // WHEN
    const result = zizmor(path.join(WORKFLOWS, file), 'medium');
    // THEN: the fix goes in .projenrc.ts (pinned actions, permissions, checkouts), then `npx projen`.
    expect(result.findings ? result.output : '').toBe('');
  });

  test('release without long-lived npm or PyPI secrets', () => {
    const release = fs.readFileSync(path.join(WORKFLOWS, 'release.yml'), 'utf8');
    expect(release).not.toMatch(/NPM_TOKEN|TWINE_PASSWORD|TWINE_USERNAME/);
    expect(release).toMatch(/NPM_TRUSTED_PUBLISHER: "true"/);
    expect(release).toMatch(/PYPI_TRUSTED_PUBLISHER: "true"/);
  });
});
