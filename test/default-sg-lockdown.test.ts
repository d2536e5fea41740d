import * as fs from 'fs';
import * as http from 'http';
import { AddressInfo } from 'net';
import * as os from 'os';
import * as path from 'path';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { EcsStagingEnvironment, StagingNetwork } from '../src';
import { testStack } from './harness/apps';

/**
 * The VPC's default security group is locked down by the library's own inline function. The
 * template is checked as CloudFormation will run it, and the function's source, read back from the
 * template, runs here against a recording stand-in for the EC2 client and a local response URL.
 */
describe('default security group lockdown', () => {
  const stack = testStack();
  new StagingNetwork(stack, 'Network');
  const template = Template.fromStack(stack);
  const functions = template.findResources('AWS::Lambda::Function');
  const [functionId, fn] = Object.entries(functions)[0];
  const source: string = fn.Properties.Code.ZipFile;

  test('one custom resource on the default group, answered by an inline function within 5 minutes', () => {
    expect(Object.keys(functions)).toHaveLength(1);
    template.resourceCountIs('Custom::DefaultSecurityGroupLockdown', 1);
    template.hasResourceProperties('Custom::DefaultSecurityGroupLockdown', {
      ServiceToken: { 'Fn::GetAtt': [functionId, 'Arn'] },
      ServiceTimeout: '300',
      GroupId: { 'Fn::GetAtt': [Match.stringLikeRegexp('^NetworkVpc'), 'DefaultSecurityGroup'] },
      HandlerVersion: Match.stringLikeRegexp('^[0-9a-f]{16}$'),
    });
    expect(fn.Properties).toMatchObject({ Runtime: 'nodejs24.x', Handler: 'index.handler', Timeout: 60, MemorySize: 128 });
    // No file asset: nothing to upload to the bootstrap bucket, and aws-cdk-lib's provider is gone.
    expect(fn.Properties.Code.S3Bucket).toBeUndefined();
    template.resourceCountIs('Custom::VpcRestrictDefaultSG', 0);
    // CloudFormation writes ZipFile to index.js; Lambda's limit for inline code is 4 MB.
    expect(Buffer.byteLength(source)).toBeLessThan(4096);
  });

  test('the function logs to a log group of its own with a retention, kept unless ephemeral', () => {
    const logGroupId = fn.Properties.LoggingConfig.LogGroup.Ref;
    const logGroup = template.toJSON().Resources[logGroupId];
    expect(logGroup).toMatchObject({ Type: 'AWS::Logs::LogGroup', Properties: { RetentionInDays: 14 }, DeletionPolicy: 'Retain' });

    const ephemeral = testStack();
    new StagingNetwork(ephemeral, 'Network', { ephemeral: true });
    const groups = Template.fromStack(ephemeral).findResources('AWS::Logs::LogGroup', { Properties: { RetentionInDays: 14 } });
    expect(Object.values(groups).every((g) => g.DeletionPolicy === 'Delete')).toBe(true);
  });

  test("the environment's tags reach the function, its role and its log group", () => {
    const envStack = testStack();
    new EcsStagingEnvironment(envStack, 'Staging', { tags: { team: 'payments' } });
    const resources = Template.fromStack(envStack).toJSON().Resources;
    const lockdown = Object.entries(resources).filter(([id]) => id.startsWith('StagingNetworkDefaultSecurityGroupLockdown'));
    const tagged = lockdown.filter(([, r]: [string, any]) => r.Type !== 'Custom::DefaultSecurityGroupLockdown');
    expect(tagged.map(([, r]: [string, any]) => r.Type).sort()).toEqual(['AWS::IAM::Role', 'AWS::Lambda::Function', 'AWS::Logs::LogGroup']);
    for (const [, resource] of tagged as Array<[string, any]>) {
      expect(resource.Properties.Tags).toEqual(expect.arrayContaining([
        { Key: 'environment', Value: 'staging' },
        { Key: 'managed-by', Value: 'cdk-ecs-staging' },
        { Key: 'team', Value: 'payments' },
      ]));
    }
    expect(tagged.every(([, r]: [string, any]) => r.Properties.tags === undefined)).toBe(true);
    // A network used alone carries no tags of its own.
    expect(fn.Properties.Tags).toBeUndefined();
  });

  test('the role may revoke rules of the default group only, and write to its own log group', () => {
    const roleId = fn.Properties.Role['Fn::GetAtt'][0];
    const role = template.toJSON().Resources[roleId];
    expect(role.Properties.ManagedPolicyArns).toBeUndefined();
    const statements = role.Properties.Policies[0].PolicyDocument.Statement;
    expect(statements).toHaveLength(3);
    // Describe* actions support no resource-level permissions.
    expect(statements[0]).toEqual({ Effect: 'Allow', Action: 'ec2:DescribeSecurityGroupRules', Resource: '*' });
    expect(statements[1].Action).toEqual(['ec2:RevokeSecurityGroupIngress', 'ec2:RevokeSecurityGroupEgress']);
    const revokeArn = statements[1].Resource['Fn::Join'][1];
    expect(revokeArn.slice(-2)).toEqual([':security-group/', { 'Fn::GetAtt': [expect.stringMatching(/^NetworkVpc/), 'DefaultSecurityGroup'] }]);
    expect(statements[2]).toEqual({
      Effect: 'Allow',
      Action: ['logs:CreateLogStream', 'logs:PutLogEvents'],
      Resource: { 'Fn::GetAtt': [fn.Properties.LoggingConfig.LogGroup.Ref, 'Arn'] },
    });
  });

  describe('the handler, run from the template', () => {
    let dir: string;
    let server: http.Server;
    let responseUrl: string;
    let responses: Array<{ headers: http.IncomingHttpHeaders; body: any }>;
    let answerStatus: number;
    let handler: (event: any) => Promise<void>;
    let calls: Array<{ command: string; input: any }>;
    let ec2Stub: { rules: any[]; failWith?: { name: string; message: string; times?: number } };

    beforeAll(async () => {
      // The function's directory as Lambda lays it out: index.js, and the SDK the runtime provides.
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sg-lockdown-'));
      fs.writeFileSync(path.join(dir, 'index.js'), source);
      const sdk = path.join(dir, 'node_modules', '@aws-sdk', 'client-ec2');
      fs.mkdirSync(sdk, { recursive: true });
      fs.writeFileSync(path.join(sdk, 'index.js'), `
        class Command { constructor(input) { this.input = input; } }
        const named = (name) => ({ [name]: class extends Command { get name() { return name; } } })[name];
        exports.DescribeSecurityGroupRulesCommand = named('DescribeSecurityGroupRules');
        exports.RevokeSecurityGroupIngressCommand = named('RevokeSecurityGroupIngress');
        exports.RevokeSecurityGroupEgressCommand = named('RevokeSecurityGroupEgress');
        exports.EC2Client = class {
          async send(command) {
            const stub = globalThis.__ec2Stub;
            stub.calls.push({ command: command.name, input: command.input });
            if (stub.failWith && stub.failWith.times !== 0) {
              stub.failWith.times = (stub.failWith.times ?? Infinity) - 1;
              const e = new Error(stub.failWith.message); e.name = stub.failWith.name; throw e;
            }
            if (command.name === 'DescribeSecurityGroupRules') {
              const start = Number(command.input.NextToken || 0);
              const page = stub.rules.slice(start, start + 2);
              return { SecurityGroupRules: page, NextToken: start + 2 < stub.rules.length ? String(start + 2) : undefined };
            }
            return { Return: true };
          }
        };
      `);
      server = http.createServer((req, res) => {
        let data = '';
        req.on('data', (chunk) => (data += chunk));
        req.on('end', () => {
          responses.push({ headers: req.headers, body: JSON.parse(data) });
          res.statusCode = answerStatus;
          res.end();
        });
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      responseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/presigned?X-Amz-Signature=abc`;
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      handler = require(path.join(dir, 'index.js')).handler;
    });

    afterAll(async () => {
      await new Promise((resolve) => server.close(resolve));
      fs.rmSync(dir, { recursive: true, force: true });
    });

    beforeEach(() => {
      responses = [];
      calls = [];
      answerStatus = 200;
      ec2Stub = { rules: [] };
      (globalThis as any).__ec2Stub = Object.assign(ec2Stub, { calls });
      jest.spyOn(console, 'log').mockImplementation(() => undefined);
    });

    afterEach(() => jest.restoreAllMocks());

    const event = (requestType: string, extra: Record<string, unknown> = {}) => ({
      RequestType: requestType,
      ResponseURL: responseUrl,
      StackId: 'arn:aws:cloudformation:us-east-1:123456789012:stack/s/1',
      RequestId: 'req-1',
      LogicalResourceId: 'Lockdown',
      ResourceType: 'Custom::DefaultSecurityGroupLockdown',
      ResourceProperties: { ServiceToken: 'arn', GroupId: 'sg-default' },
      ...extra,
    });

    test('Create revokes every rule the group holds, by rule ID, across pages, and answers SUCCESS', async () => {
      ec2Stub.rules = [
        { SecurityGroupRuleId: 'sgr-in-self', IsEgress: false },
        { SecurityGroupRuleId: 'sgr-out-v4', IsEgress: true },
        { SecurityGroupRuleId: 'sgr-out-v6', IsEgress: true },
      ];
      await handler(event('Create'));
      expect(calls).toEqual([
        { command: 'DescribeSecurityGroupRules', input: { Filters: [{ Name: 'group-id', Values: ['sg-default'] }], MaxResults: 1000, NextToken: undefined } },
        { command: 'DescribeSecurityGroupRules', input: { Filters: [{ Name: 'group-id', Values: ['sg-default'] }], MaxResults: 1000, NextToken: '2' } },
        { command: 'RevokeSecurityGroupIngress', input: { GroupId: 'sg-default', SecurityGroupRuleIds: ['sgr-in-self'] } },
        { command: 'RevokeSecurityGroupEgress', input: { GroupId: 'sg-default', SecurityGroupRuleIds: ['sgr-out-v4', 'sgr-out-v6'] } },
      ]);
      expect(responses).toHaveLength(1);
      expect(responses[0].body).toEqual({
        Status: 'SUCCESS',
        PhysicalResourceId: 'sg-default',
        StackId: 'arn:aws:cloudformation:us-east-1:123456789012:stack/s/1',
        RequestId: 'req-1',
        LogicalResourceId: 'Lockdown',
      });
      // The presigned URL signs no content type: the PUT sends an empty one, as CloudFormation's docs show.
      expect(responses[0].headers['content-type']).toBe('');
    });

    test('a group already without rules is left alone (Create and Update are idempotent)', async () => {
      await handler(event('Update', { PhysicalResourceId: 'sg-default', OldResourceProperties: { GroupId: 'sg-default' } }));
      expect(calls.map((c) => c.command)).toEqual(['DescribeSecurityGroupRules']);
      expect(responses[0].body).toMatchObject({ Status: 'SUCCESS', PhysicalResourceId: 'sg-default' });
    });

    test('Update onto a new VPC locks the new group down and reports its ID, so the old resource is deleted', async () => {
      ec2Stub.rules = [{ SecurityGroupRuleId: 'sgr-1', IsEgress: true }];
      await handler(event('Update', { PhysicalResourceId: 'sg-old', ResourceProperties: { GroupId: 'sg-new' } }));
      expect(calls[1]).toEqual({ command: 'RevokeSecurityGroupEgress', input: { GroupId: 'sg-new', SecurityGroupRuleIds: ['sgr-1'] } });
      expect(responses[0].body).toMatchObject({ Status: 'SUCCESS', PhysicalResourceId: 'sg-new' });
    });

    test('Delete changes nothing and answers SUCCESS with the same physical ID', async () => {
      ec2Stub.rules = [{ SecurityGroupRuleId: 'sgr-1', IsEgress: true }];
      await handler(event('Delete', { PhysicalResourceId: 'sg-default' }));
      expect(calls).toEqual([]);
      expect(responses[0].body).toMatchObject({ Status: 'SUCCESS', PhysicalResourceId: 'sg-default' });
    });

    test('an EC2 error fails the deploy with its name and message, at once', async () => {
      ec2Stub.failWith = { name: 'InvalidGroup.NotFound', message: "The security group 'sg-default' does not exist" };
      jest.spyOn(console, 'error').mockImplementation(() => undefined);
      await handler(event('Create'));
      expect(calls).toHaveLength(1);
      expect(responses[0].body).toMatchObject({
        Status: 'FAILED',
        Reason: "InvalidGroup.NotFound: The security group 'sg-default' does not exist",
        PhysicalResourceId: 'sg-default',
      });
    });

    test('an authorization error while the new role propagates is retried', async () => {
      ec2Stub.rules = [{ SecurityGroupRuleId: 'sgr-1', IsEgress: true }];
      ec2Stub.failWith = { name: 'UnauthorizedOperation', message: 'You are not authorized to perform this operation.', times: 1 };
      await handler(event('Create'));
      expect(calls.map((c) => c.command)).toEqual(['DescribeSecurityGroupRules', 'DescribeSecurityGroupRules', 'RevokeSecurityGroupEgress']);
      expect(responses[0].body).toMatchObject({ Status: 'SUCCESS' });
    });

    test('an authorization error that lasts fails the deploy after 5 attempts over 15 s', async () => {
      ec2Stub.failWith = { name: 'UnauthorizedOperation', message: 'You are not authorized to perform this operation.' };
      jest.spyOn(console, 'error').mockImplementation(() => undefined);
      jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate', 'queueMicrotask'] });
      try {
        const done = handler(event('Create'));
        await jest.advanceTimersByTimeAsync(14_999);
        expect(calls).toHaveLength(4);
        await jest.advanceTimersByTimeAsync(1);
        jest.useRealTimers();
        await done;
      } finally {
        jest.useRealTimers();
      }
      expect(calls).toHaveLength(5);
      expect(responses[0].body).toMatchObject({ Status: 'FAILED', Reason: 'UnauthorizedOperation: You are not authorized to perform this operation.' });
    });

    test('a response URL that refuses the answer makes the invocation fail (CloudFormation then times out after 5 minutes)', async () => {
      answerStatus = 403;
      await expect(handler(event('Delete', { PhysicalResourceId: 'sg-default' }))).rejects.toThrow('HTTP 403');
    });
  });
});
