import * as path from 'path';
import { Duration, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { TEST_ENV, testApp } from './harness/apps';
import { cfnLint, formatMatches } from './harness/cfn-lint';
import { checkov } from './harness/checkov';
import { statementsOf } from './harness/iam';
import { parliament, policiesOf } from './harness/parliament';
import { formatFindings, postureFindings } from './harness/posture';
import { REAPER_SOURCE, StagingPreviewReaper } from '../src/private/preview-reaper';

/** The reaper's code as Lambda loads it (a CommonJS module), with `require` answered by `modules`. */
function loadReaper(modules: Record<string, unknown> = {}): any {
  const module = { exports: {} as any };
  const requireModule = (name: string) => {
    if (!(name in modules)) throw new Error(`Cannot find module '${name}'`);
    return modules[name];
  };
  new Function('module', 'exports', 'require', REAPER_SOURCE)(module, module.exports, requireModule);
  return module.exports;
}

class ListStacksCommand {
  constructor(readonly input: any) {}
}
class DeleteStackCommand {
  constructor(readonly input: any) {}
}

/**
 * A CloudFormation client that answers ListStacks from `pages` (NextToken chains them), records every
 * command, and fails DeleteStack of the stacks in `refused` as CloudFormation does.
 */
function fakeClient(pages: any[][], refused: Record<string, Error> = {}) {
  const sent: any[] = [];
  return {
    sent,
    send: async (command: any) => {
      sent.push(command);
      if (command instanceof ListStacksCommand) {
        const index = command.input.NextToken ? Number(command.input.NextToken) : 0;
        return { StackSummaries: pages[index], NextToken: index + 1 < pages.length ? String(index + 1) : undefined };
      }
      if (command instanceof DeleteStackCommand && refused[command.input.StackName]) {
        throw refused[command.input.StackName];
      }
      return {};
    },
  };
}

const NOW = new Date('2026-12-10T12:00:00Z');
const HOURS = 3600;
const summary = (StackName: string, StackStatus: string, CreationTime: string, LastUpdatedTime?: string) =>
  ({ StackName, StackStatus, CreationTime, LastUpdatedTime });

describe('StagingPreviewReaper', () => {
  let stack: Stack;
  let reaper: StagingPreviewReaper;
  let template: Template;
  beforeAll(() => {
    stack = new Stack(testApp(), 'Reaper', { env: TEST_ENV });
    reaper = new StagingPreviewReaper(stack, 'PreviewReaper', { environmentName: 'staging', expireAfter: Duration.days(3) });
    template = Template.fromStack(stack);
  });

  test('an hourly rule invokes a Node.js 22 function whose code is inline, no asset', () => {
    template.hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: 'rate(1 hour)',
      State: 'ENABLED',
      Targets: [{ Arn: { 'Fn::GetAtt': [stack.resolve((reaper.function.node.defaultChild as any).logicalId), 'Arn'] }, RetryPolicy: { MaximumRetryAttempts: 2 } }],
    });
    template.hasResourceProperties('AWS::Lambda::Function', {
      Runtime: 'nodejs22.x',
      Handler: 'index.handler',
      Code: { ZipFile: REAPER_SOURCE },
      Environment: { Variables: { STACK_PREFIX: 'staging-preview-pr-', EXPIRE_AFTER_SECONDS: String(72 * HOURS) } },
      LoggingConfig: { LogGroup: { Ref: stack.resolve((reaper.logGroup.node.defaultChild as any).logicalId) } },
    });
    template.hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: 14 });
    // CloudFormation takes inline Node.js code of up to 4096 characters.
    expect(REAPER_SOURCE.length).toBeLessThanOrEqual(4096);
    expect(Object.keys(template.findParameters('*'))).toEqual(['BootstrapVersion']);
  });

  test('its role may list stacks and delete the preview stacks, nothing else', () => {
    const statements = statementsOf(reaper.function.role!).map((s) => stack.resolve(s));
    const cloudformation = statements.filter((s) => [s.Action].flat().some((a: string) => a.startsWith('cloudformation:')));
    expect(cloudformation).toEqual([
      { Action: 'cloudformation:ListStacks', Effect: 'Allow', Resource: '*' },
      { Action: 'cloudformation:DeleteStack', Effect: 'Allow', Resource: 'arn:aws:cloudformation:us-east-1:123456789012:stack/staging-preview-pr-*/*' },
    ]);
    // The rest writes its own log group; no iam:PassRole (DeleteStack uses the stack's own role).
    const others = statements.filter((s) => !cloudformation.includes(s)).flatMap((s) => [s.Action].flat());
    expect(others.every((a: string) => a.startsWith('logs:'))).toBe(true);
    template.resourceCountIs('AWS::IAM::ManagedPolicy', 0);
    const roleId = stack.resolve((reaper.function.role!.node.defaultChild as any).logicalId);
    expect(template.toJSON().Resources[roleId].Properties.ManagedPolicyArns).toBeUndefined();
  });

  test('is posture-clean (cdk-nag, Control Tower), checkov- and cfn-lint-clean, and parliament finds nothing', () => {
    const app = testApp();
    const alone = new Stack(app, 'Reaper', { env: TEST_ENV });
    new StagingPreviewReaper(alone, 'PreviewReaper', { environmentName: 'staging', expireAfter: Duration.hours(12) });
    expect(formatFindings(postureFindings(app))).toBe('');
    const assembly = app.synth();
    const file = path.join(assembly.directory, 'Reaper.template.json');
    expect(checkov([file])).toEqual([]);
    expect(formatMatches(cfnLint([file]))).toBe('');
    expect(parliament(policiesOf(assembly.directory))).toEqual([]);
  });

  test('retains its log group, unless the environment is ephemeral', () => {
    template.hasResource('AWS::Logs::LogGroup', { DeletionPolicy: 'Retain' });
    const other = new Stack(testApp(), 'Ephemeral', { env: TEST_ENV });
    new StagingPreviewReaper(other, 'PreviewReaper', { environmentName: 'staging', expireAfter: Duration.days(1), ephemeral: true });
    Template.fromStack(other).hasResource('AWS::Logs::LogGroup', { DeletionPolicy: 'Delete' });
  });

  test('fails when expireAfter is under an hour', () => {
    const other = new Stack(testApp(), 'Short', { env: TEST_ENV });
    expect(() => new StagingPreviewReaper(other, 'PreviewReaper', { environmentName: 'staging', expireAfter: Duration.minutes(30) }))
      .toThrow(/previews.expireAfter must be at least 1 hour \(got 30 minutes\)/);
  });

  describe('its code', () => {
    const reap = (pages: any[][], expireAfterSeconds = 72 * HOURS, refused: Record<string, Error> = {}) => {
      const client = fakeClient(pages, refused);
      const log: string[] = [];
      const result = loadReaper().reap({ client, commands: { ListStacksCommand, DeleteStackCommand }, prefix: 'staging-preview-pr-', expireAfterSeconds, now: NOW, log: (l: string) => log.push(l) });
      return result.then((r: any) => ({ ...r, client, log: log.map((l) => JSON.parse(l)) }));
    };

    test('deletes the preview stacks untouched for longer than expireAfter, by last update or else creation', async () => {
      // GIVEN (now is 12-10 12:00, expireAfter 3 days: the cutoff is 12-07 12:00)
      const { deleted, kept, client } = await reap([[
        summary('staging-preview-pr-1', 'UPDATE_COMPLETE', '2026-11-01T00:00:00Z', '2026-12-07T11:59:00Z'),
        summary('staging-preview-pr-2', 'UPDATE_COMPLETE', '2026-11-01T00:00:00Z', '2026-12-07T12:01:00Z'),
        summary('staging-preview-pr-3', 'CREATE_COMPLETE', '2026-12-06T00:00:00Z'),
        summary('staging-preview-pr-4', 'CREATE_COMPLETE', '2026-12-09T00:00:00Z'),
        summary('staging-preview-pr-5', 'ROLLBACK_COMPLETE', '2026-12-01T00:00:00Z'),
        summary('staging-preview-pr-6', 'DELETE_FAILED', '2026-12-01T00:00:00Z', '2026-12-02T00:00:00Z'),
      ]]);
      // THEN
      expect(deleted).toEqual(['staging-preview-pr-1', 'staging-preview-pr-3', 'staging-preview-pr-5', 'staging-preview-pr-6']);
      expect(kept).toEqual(['staging-preview-pr-2', 'staging-preview-pr-4']);
      const deletes = client.sent.filter((c: any) => c instanceof DeleteStackCommand);
      expect(deletes.map((c: any) => c.input)).toEqual(deleted.map((StackName: string) => ({ StackName })));
    });

    test('deletes a stack that holds only a refused change set (REVIEW_IN_PROGRESS) once expired, by its creation', async () => {
      const { deleted, kept } = await reap([[
        summary('staging-preview-pr-1', 'REVIEW_IN_PROGRESS', '2026-12-07T11:00:00Z'),
        summary('staging-preview-pr-2', 'REVIEW_IN_PROGRESS', '2026-12-10T11:00:00Z'),
      ]]);
      expect(deleted).toEqual(['staging-preview-pr-1']);
      expect(kept).toEqual(['staging-preview-pr-2']);
    });

    test('a DeleteStack that fails is logged, and the others are still deleted', async () => {
      // GIVEN three expired previews, the second of which CloudFormation refuses to delete
      const old = '2026-11-01T00:00:00Z';
      const throttled = Object.assign(new Error('Rate exceeded'), { name: 'Throttling' });
      const { deleted, failed, client, log } = await reap([[
        summary('staging-preview-pr-1', 'CREATE_COMPLETE', old),
        summary('staging-preview-pr-2', 'CREATE_COMPLETE', old),
        summary('staging-preview-pr-3', 'CREATE_COMPLETE', old),
      ]], 72 * HOURS, { 'staging-preview-pr-2': throttled });
      // THEN
      expect(deleted).toEqual(['staging-preview-pr-1', 'staging-preview-pr-3']);
      expect(failed).toEqual(['staging-preview-pr-2']);
      expect(client.sent.filter((c: any) => c instanceof DeleteStackCommand)).toHaveLength(3);
      expect(log.find((l: any) => l.stack === 'staging-preview-pr-2')).toEqual({
        stack: 'staging-preview-pr-2', status: 'CREATE_COMPLETE', lastTouched: '2026-11-01T00:00:00.000Z', action: 'failed', reason: 'Throttling: Rate exceeded',
      });
      expect(log[log.length - 1]).toEqual({ action: 'done', deleted: 2, kept: 0, failed: 1 });
    });

    test('skips a stack an operation is changing, and every stack that is not a preview of this environment', async () => {
      const old = '2026-11-01T00:00:00Z';
      const { deleted, kept, log } = await reap([[
        summary('staging-preview-pr-7', 'UPDATE_IN_PROGRESS', old, old),
        summary('staging-preview-pr-8', 'DELETE_IN_PROGRESS', old),
        summary('staging', 'UPDATE_COMPLETE', old, old),
        summary('staging-preview-pr-9-extra', 'CREATE_COMPLETE', old),
        summary('prod-preview-pr-1', 'CREATE_COMPLETE', old),
        summary('staging-previews', 'CREATE_COMPLETE', old),
      ]]);
      expect(deleted).toEqual([]);
      expect(kept).toEqual(['staging-preview-pr-7', 'staging-preview-pr-8']);
      expect(log.filter((l: any) => l.action === 'skipped').map((l: any) => l.stack)).toEqual(['staging-preview-pr-7', 'staging-preview-pr-8']);
    });

    test('asks only for stacks that exist and no operation is changing, and reads every page', async () => {
      const old = '2026-11-01T00:00:00Z';
      const { deleted, client } = await reap([
        [summary('staging-preview-pr-1', 'CREATE_COMPLETE', old)],
        [],
        [summary('staging-preview-pr-2', 'CREATE_COMPLETE', old)],
      ]);
      expect(deleted).toEqual(['staging-preview-pr-1', 'staging-preview-pr-2']);
      const lists = client.sent.filter((c: any) => c instanceof ListStacksCommand);
      expect(lists.map((c: any) => c.input.NextToken)).toEqual([undefined, '1', '2']);
      const filter: string[] = lists[0].input.StackStatusFilter;
      expect(filter).not.toContain('DELETE_COMPLETE');
      // REVIEW_IN_PROGRESS is no operation under way: the stack holds a change set, refused or never executed.
      expect(filter.filter((s) => s.endsWith('_IN_PROGRESS'))).toEqual(['REVIEW_IN_PROGRESS']);
      expect(filter).toEqual(expect.arrayContaining(['CREATE_COMPLETE', 'UPDATE_COMPLETE', 'UPDATE_ROLLBACK_COMPLETE', 'ROLLBACK_COMPLETE', 'DELETE_FAILED']));
    });

    test('logs each decision as one JSON line, and a summary', async () => {
      const { log } = await reap([[
        summary('staging-preview-pr-1', 'CREATE_COMPLETE', '2026-11-01T00:00:00Z'),
        summary('staging-preview-pr-2', 'CREATE_COMPLETE', '2026-12-10T00:00:00Z'),
      ]]);
      expect(log).toEqual([
        { stack: 'staging-preview-pr-1', status: 'CREATE_COMPLETE', lastTouched: '2026-11-01T00:00:00.000Z', action: 'deleted', reason: `untouched for more than ${72 * HOURS} s` },
        { stack: 'staging-preview-pr-2', status: 'CREATE_COMPLETE', lastTouched: '2026-12-10T00:00:00.000Z', action: 'kept', reason: `touched within ${72 * HOURS} s` },
        { action: 'done', deleted: 1, kept: 1, failed: 0 },
      ]);
    });

    test('the handler uses the runtime\'s AWS SDK v3 client with the function\'s environment', async () => {
      // GIVEN the SDK module the Node.js 22 runtime provides, and the function's environment
      const clients: any[] = [];
      const sdk = {
        ListStacksCommand,
        DeleteStackCommand,
        CloudFormationClient: class {
          readonly sent: any[] = [];
          constructor(readonly config: any) {
            clients.push(this);
          }
          async send(command: any) {
            this.sent.push(command);
            return command instanceof ListStacksCommand ? { StackSummaries: [summary('staging-preview-pr-4', 'CREATE_COMPLETE', '2026-01-01T00:00:00Z')] } : {};
          }
        },
      };
      const saved = { ...process.env };
      process.env.STACK_PREFIX = 'staging-preview-pr-';
      process.env.EXPIRE_AFTER_SECONDS = String(HOURS);
      const logged = jest.spyOn(console, 'log').mockImplementation(() => undefined);
      try {
        // WHEN
        const result = await loadReaper({ '@aws-sdk/client-cloudformation': sdk }).handler({});
        // THEN
        expect(result).toEqual({ deleted: ['staging-preview-pr-4'], kept: [], failed: [] });
        expect(clients).toHaveLength(1);
        expect(clients[0].sent.map((c: any) => c.constructor.name)).toEqual(['ListStacksCommand', 'DeleteStackCommand']);
        expect(logged).toHaveBeenCalledTimes(2);
      } finally {
        logged.mockRestore();
        process.env = saved;
      }
    });
  });
});
