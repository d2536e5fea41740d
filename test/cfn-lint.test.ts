import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { buildExampleApp } from '../examples/app';
import { cfnLint, formatMatches } from './harness/cfn-lint';
import { integSnapshotTemplates } from './harness/snapshots';

describe('cfn-lint', () => {
  let workdir: string;
  beforeAll(() => {
    workdir = fs.mkdtempSync(path.join(os.tmpdir(), 'cfn-lint-'));
  });
  afterAll(() => {
    fs.rmSync(workdir, { recursive: true, force: true });
  });

  test('finds no error or warning in the example app and integ templates', () => {
    // GIVEN
    const example = buildExampleApp(path.join(workdir, 'example')).synth();
    const templates = [...example.stacksRecursively.map((s) => s.templateFullPath), ...integSnapshotTemplates()];
    expect(templates.length).toBeGreaterThanOrEqual(3);
    // WHEN
    const matches = cfnLint(templates);
    // THEN
    expect(formatMatches(matches)).toBe('');
  });

  test('fails on a broken template', () => {
    // GIVEN: a subnet without its required VpcId and with a malformed CIDR
    const broken = path.join(workdir, 'broken.template.json');
    fs.writeFileSync(broken, JSON.stringify({
      Resources: { Subnet: { Type: 'AWS::EC2::Subnet', Properties: { CidrBlock: 'not-a-cidr' } } },
    }));
    // WHEN
    const matches = cfnLint([broken]);
    // THEN
    expect(matches.filter((m) => m.Level === 'Error').map((m) => m.Rule.Id)).toEqual(expect.arrayContaining(['E3003']));
  });
});
