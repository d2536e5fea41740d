import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { App, Stack } from 'aws-cdk-lib';
import * as ecr from 'aws-cdk-lib/aws-ecr';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import { buildExampleApp } from '../examples/app';
import { EcsStagingEnvironment, NatStrategy } from '../src';
import { testApp, TEST_ENV } from './harness/apps';
import { checkov } from './harness/checkov';
import { integSnapshotTemplates } from './harness/snapshots';

const AZ_CONTEXT = `availability-zones:account=${TEST_ENV.account}:region=${TEST_ENV.region}`;

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

  test('finds no unexplained failed check with every option on, nor without a NAT', () => {
    // GIVEN: a NAT instance, ECS Exec, mutable tags, a writable root filesystem, Spot, ARM; and NatStrategy.none()
    const app = new App({ outdir: path.join(workdir, 'options'), context: { [AZ_CONTEXT]: ['us-east-1a', 'us-east-1b'] } });
    const all = new EcsStagingEnvironment(new Stack(app, 'Options', { env: TEST_ENV }), 'Staging', {
      ephemeral: true,
      network: { natStrategy: NatStrategy.instance(), interfaceEndpoints: true },
      edge: { allowedCidrs: ['203.0.113.0/24'], deletionProtection: true },
    });
    all.addService('web', {
      enableExecuteCommand: true,
      spot: true,
      imageTagImmutable: false,
      readonlyRootFilesystem: false,
      user: '1000',
      autoScaling: { maxCapacity: 3, targetMemoryPercent: 70, targetRequestsPerTarget: 500 },
    });
    all.addService('arm', { cpuArchitecture: ecs.CpuArchitecture.ARM64, pathPatterns: ['/arm/*'], image: ecs.ContainerImage.fromRegistry('public.ecr.aws/nginx/nginx:1.27') });
    new EcsStagingEnvironment(new Stack(app, 'NoNat', { env: TEST_ENV }), 'Staging', { network: { natStrategy: NatStrategy.none() } }).addService('web');
    const assembly = app.synth();
    // WHEN
    const findings = checkov(fs.readdirSync(assembly.directory).filter((f) => f.endsWith('.template.json')).map((f) => path.join(assembly.directory, f)));
    // THEN
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
