import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Stack } from 'aws-cdk-lib';
import * as ecr from 'aws-cdk-lib/aws-ecr';
import { buildExampleApp } from '../examples/app';
import { EcsStagingEnvironment } from '../src';
import { testApp, TEST_ENV } from './harness/apps';
import { checkov } from './harness/checkov';
import { integSnapshotTemplates } from './harness/snapshots';

describe('checkov', () => {
  let workdir: string;
  beforeAll(() => {
    workdir = fs.mkdtempSync(path.join(os.tmpdir(), 'checkov-'));
  });
  afterAll(() => {
    fs.rmSync(workdir, { recursive: true, force: true });
  });

  test('finds no unexplained failed check in the example app and the integ test cases', () => {
    // GIVEN: the example and every integ scenario, nested templates included
    const example = buildExampleApp(path.join(workdir, 'example')).synth();
    const exampleTemplates = fs.readdirSync(example.directory).filter((f) => f.endsWith('.template.json')).map((f) => path.join(example.directory, f));
    const templates = [...exampleTemplates, ...integSnapshotTemplates(true)];
    expect(templates.length).toBeGreaterThanOrEqual(20);
    // WHEN
    const findings = checkov(templates);
    // THEN: each trade-off is skipped on its resource with the reason every other scanner shows
    expect(findings.map((f) => `${f.checkId} ${f.resource} (${f.file})`)).toEqual([]);
  });

  test('fails on what it should: a repository without a customer key, unless the library explains it', () => {
    // GIVEN: a bare repository next to the environment's
    const app = testApp();
    const stack = new Stack(app, 'Bare', { env: TEST_ENV });
    new ecr.Repository(stack, 'Bare');
    new EcsStagingEnvironment(stack, 'Staging').addService('web');
    const assembly = app.synth();
    const templates = fs.readdirSync(assembly.directory).filter((f) => f.endsWith('.template.json')).map((f) => path.join(assembly.directory, f));
    // WHEN
    const findings = checkov(templates);
    // THEN: the bare repository fails CKV_AWS_136; the service's, skipped with its reason, does not
    expect(findings.filter((f) => f.checkId === 'CKV_AWS_136').map((f) => f.resource)).toEqual([expect.stringMatching(/^AWS::ECR::Repository\.Bare/)]);
    const nested = templates.find((t) => t.endsWith('.nested.template.json'))!;
    const repository = Object.values<any>(JSON.parse(fs.readFileSync(nested, 'utf8')).Resources).find((r) => r.Type === 'AWS::ECR::Repository');
    expect(repository.Metadata.checkov.skip).toEqual([{ id: 'CKV_AWS_136', comment: expect.stringMatching(/^ECR encrypts images at rest with AES-256/) }]);
  });
});
