/**
 * Runs `validate` in-process against moto and the tests' load balancer stand-in, recording every
 * AWS call (as the IAM action it needs), and answering the few operations moto lacks with
 * responses shaped as AWS documents them.
 */
import { LoadBalancerServer } from './load-balancer-server';
import { FAKE_CREDENTIALS, MOTO_REGION } from './moto';
import { ValidateTestHooks, validate } from '../../src/cli/validate';

/** Every IAM action validate called, over the whole test file. */
export const CALLED = new Set<string>();

/**
 * Answers for the operations moto 5.2.5 does not implement (moto/iam/responses.py has no
 * simulate_principal_policy, moto/ecs/responses.py no list_service_deployments), and for the one
 * field it cannot be made to vary (target health: moto reports every registered target 'healthy').
 * Each returns undefined to let the call through to moto.
 */
export type Answers = { [action: string]: (input: any) => unknown };

/**
 * IAM's policy simulator, as SimulatePrincipalPolicy answers
 * (https://docs.aws.amazon.com/IAM/latest/APIReference/API_SimulatePrincipalPolicy.html):
 * one EvaluationResult per action, EvalDecision allowed | explicitDeny | implicitDeny.
 */
export function simulator(denied: (action: string, resource: string, role: string) => boolean = () => false) {
  return (input: { PolicySourceArn: string; ActionNames: string[]; ResourceArns: string[] }) => ({
    EvaluationResults: input.ActionNames.map((action) => ({
      EvalActionName: action,
      EvalResourceName: input.ResourceArns[0],
      EvalDecision: denied(action, input.ResourceArns[0], input.PolicySourceArn) ? 'implicitDeny' : 'allowed',
      MatchedStatements: [],
      MissingContextValues: [],
    })),
    IsTruncated: false,
  });
}

/**
 * ECS's recent deployments of a service, as ListServiceDeployments answers
 * (https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_ListServiceDeployments.html):
 * ServiceDeploymentBrief items, newest first; status SUCCESSFUL, ROLLBACK_SUCCESSFUL, ...
 */
export function deployments(rolledBack: (service: string) => boolean = () => false, history: DeploymentHistory = {}) {
  return (input: { cluster: string; service: string; nextToken?: string }) => {
    const base = `arn:aws:ecs:${MOTO_REGION}:123456789012`;
    const now = Date.now();
    const brief = (id: string, ageMinutes: number, status: string, statusReason?: string) => ({
      serviceDeploymentArn: `${base}:service-deployment/${input.cluster}/${input.service}/${id}`,
      serviceArn: `${base}:service/${input.cluster}/${input.service}`,
      clusterArn: `${base}:cluster/${input.cluster}`,
      createdAt: new Date(now - ageMinutes * 60_000),
      startedAt: new Date(now - ageMinutes * 60_000),
      finishedAt: new Date(now - (ageMinutes - 5) * 60_000),
      targetServiceRevisionArn: `${base}:service-revision/${input.cluster}/${input.service}/${id}1`,
      status,
      statusReason,
    });
    const rollback = (id: string, ageMinutes: number) => brief(id, ageMinutes, 'ROLLBACK_SUCCESSFUL', 'Service deployment rolled back because the circuit breaker threshold was exceeded.');
    const all = rolledBack(input.service)
      ? [
        ...(history.putRightBy ? [brief('0k0000000000003', history.putRightBy, 'SUCCESSFUL')] : []),
        ...Array.from({ length: history.newerStopped ?? 0 }, (_, i) => brief(`st0pped00000${String(i).padStart(3, '0')}`, 5 + i, 'STOPPED')),
        rollback('r0llback0000001', 30),
        brief('0k0000000000001', 600, 'SUCCESSFUL'),
      ]
      : [brief('0k0000000000002', 60, 'SUCCESSFUL')];
    // Pages of history.pageSize items (ECS returns up to 20 a page), the next one named by nextToken.
    const size = history.pageSize ?? all.length;
    const start = input.nextToken ? Number(input.nextToken) : 0;
    const next = start + size < all.length ? String(start + size) : undefined;
    return { serviceDeployments: all.slice(start, start + size), ...(next ? { nextToken: next } : {}) };
  };
}

/** Variations of a rolled-back service's recent deployments. */
export interface DeploymentHistory {
  /** A SUCCESSFUL deployment this many minutes old (newer than the rollback's 30): the rollback is put right. */
  readonly putRightBy?: number;
  /** STOPPED deployments newer than the rollback (stopped by hand: they put nothing right). */
  readonly newerStopped?: number;
  /** Items a page. */
  readonly pageSize?: number;
}

export interface RunResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
  readonly calls: string[];
}

export interface RunOptions {
  readonly answers?: Answers;
  readonly now?: Date;
  readonly env?: { [key: string]: string | undefined };
}

/**
 * Runs `f` with the process's environment pointed at moto (the SDK reads its endpoint and credentials
 * there), `overrides` on top (undefined: unset); restores the environment after.
 */
export async function withMotoEnvironment<T>(
  endpoint: string, f: () => Promise<T>, overrides: { [key: string]: string | undefined } = {},
): Promise<T> {
  const saved = { ...process.env };
  const env: { [key: string]: string | undefined } = {
    AWS_ENDPOINT_URL: endpoint,
    AWS_ACCESS_KEY_ID: FAKE_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: FAKE_CREDENTIALS.secretAccessKey,
    AWS_REGION: MOTO_REGION,
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    AWS_PROFILE: undefined,
    AWS_SESSION_TOKEN: undefined,
    ...overrides,
  };
  for (const [key, value] of Object.entries(env)) {
    if (value === undefined) delete process.env[key];
    else process.env[key] = value;
  }
  try {
    return await f();
  } finally {
    for (const key of Object.keys(process.env)) if (!(key in saved)) delete process.env[key];
    Object.assign(process.env, saved);
  }
}

/** The test hooks of a run: answers for what moto lacks (on top of the defaults), calls recorded, the load balancer stand-in. */
export function hooksFor(lb: LoadBalancerServer | undefined, options: RunOptions = {}, calls: string[] = []): ValidateTestHooks {
  const answers: Answers = {
    'iam:SimulatePrincipalPolicy': simulator(),
    'ecs:ListServiceDeployments': deployments(),
    ...options.answers,
  };
  return {
    onCall: (action, input) => {
      calls.push(action);
      CALLED.add(action);
      return answers[action]?.(input);
    },
    loadBalancer: lb ? { http: lb.http, https: lb.https, ca: lb.ca } : undefined,
    now: options.now,
  };
}

/** Runs `cdk-ecs-staging <args>` in-process against moto at `endpoint`. */
export async function runValidate(
  endpoint: string, lb: LoadBalancerServer | undefined, args: string[], options: RunOptions = {},
): Promise<RunResult> {
  const calls: string[] = [];
  let stdout = '';
  let stderr = '';
  const code = await withMotoEnvironment(endpoint, () => validate(args, {
    stdout: { write: (t: string) => { stdout += t; } },
    stderr: { write: (t: string) => { stderr += t; } },
    env: process.env,
  }, hooksFor(lb, options, calls)), options.env);
  return { code, stdout, stderr, calls };
}

/** The report's line of a check (`✓ web targets: ...`), or undefined. */
export function lineOf(stdout: string, check: string): string | undefined {
  return stdout.split('\n').find((l) => new RegExp(`^(✓|✗|asleep|skipped) ${check}:`).test(l));
}

/** The fix printed under a check's line. */
export function fixOf(stdout: string, check: string): string | undefined {
  const lines = stdout.split('\n');
  const i = lines.findIndex((l) => new RegExp(`^(✓|✗|asleep|skipped) ${check}:`).test(l));
  return i >= 0 && lines[i + 1]?.startsWith('    fix: ') ? lines[i + 1].slice('    fix: '.length) : undefined;
}
