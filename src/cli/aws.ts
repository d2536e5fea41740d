/**
 * The AWS clients of `cdk-ecs-staging validate`: AWS SDK for JavaScript v3, the standard credential
 * chain (`--profile` picks a profile of it), the region from `--region` or the chain, and the SDK's
 * retries with backoff on throttling. Every call goes through one middleware that names the IAM
 * action it needs (`<service prefix>:<operation>`), which the tests record (README's policy).
 */
import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { CloudWatchLogsClient } from '@aws-sdk/client-cloudwatch-logs';
import { EC2Client } from '@aws-sdk/client-ec2';
import { ECRClient } from '@aws-sdk/client-ecr';
import { ECSClient } from '@aws-sdk/client-ecs';
import { ElasticLoadBalancingV2Client } from '@aws-sdk/client-elastic-load-balancing-v2';
import { IAMClient } from '@aws-sdk/client-iam';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SNSClient } from '@aws-sdk/client-sns';
import { SSMClient } from '@aws-sdk/client-ssm';

/**
 * Called before every AWS call with the IAM action it needs and its input. What it returns, unless
 * undefined, is taken as the call's output without calling AWS: the tests answer with recorded
 * responses the few operations the emulator lacks. Not reachable from the command line.
 */
export type CallHook = (action: string, input: unknown) => unknown;

/** Attempts of each call, with the SDK's backoff between them (throttling, 5XX, network errors). */
const MAX_ATTEMPTS = 8;

/** One client of each service validate reads. */
export class AwsClients {
  public readonly cloudformation: CloudFormationClient;
  public readonly cloudwatch: CloudWatchClient;
  public readonly logs: CloudWatchLogsClient;
  public readonly ec2: EC2Client;
  public readonly ecr: ECRClient;
  public readonly ecs: ECSClient;
  public readonly elb: ElasticLoadBalancingV2Client;
  public readonly iam: IAMClient;
  public readonly secretsManager: SecretsManagerClient;
  public readonly sns: SNSClient;
  public readonly ssm: SSMClient;

  constructor(options: { region?: string; profile?: string; hook?: CallHook }) {
    const config = { region: options.region, profile: options.profile, maxAttempts: MAX_ATTEMPTS };
    // IAM action prefixes (https://docs.aws.amazon.com/service-authorization/latest/reference/reference_policies_actions-resources-contextkeys.html).
    const make = <T extends { middlewareStack: any }>(client: T, prefix: string): T => {
      client.middlewareStack.add((next: any, context: any) => async (args: any) => {
        const action = `${prefix}:${String(context.commandName).replace(/Command$/, '')}`;
        const answer = options.hook?.(action, args.input);
        if (answer !== undefined) {
          return { output: { $metadata: {}, ...(answer as object) }, response: {} };
        }
        return next(args);
      }, { step: 'initialize', name: 'cdkEcsStagingAction' });
      return client;
    };
    this.cloudformation = make(new CloudFormationClient(config), 'cloudformation');
    this.cloudwatch = make(new CloudWatchClient(config), 'cloudwatch');
    this.logs = make(new CloudWatchLogsClient(config), 'logs');
    this.ec2 = make(new EC2Client(config), 'ec2');
    this.ecr = make(new ECRClient(config), 'ecr');
    this.ecs = make(new ECSClient(config), 'ecs');
    this.elb = make(new ElasticLoadBalancingV2Client(config), 'elasticloadbalancing');
    this.iam = make(new IAMClient(config), 'iam');
    this.secretsManager = make(new SecretsManagerClient(config), 'secretsmanager');
    this.sns = make(new SNSClient(config), 'sns');
    this.ssm = make(new SSMClient(config), 'ssm');
  }

  /** The region the clients call: `--region`, else the SDK's chain (AWS_REGION, the profile's region). */
  public async region(): Promise<string> {
    return this.ssm.config.region();
  }

  /** Closes the clients' connections, so that the process ends at once. */
  public destroy(): void {
    const clients = [
      this.cloudformation, this.cloudwatch, this.logs, this.ec2, this.ecr, this.ecs, this.elb, this.iam, this.secretsManager, this.sns, this.ssm,
    ];
    for (const client of clients) {
      client.destroy();
    }
  }
}

/** The error's name (SDK exceptions carry the AWS error code there). */
export function errorName(error: unknown): string {
  return (error as { name?: string })?.name ?? '';
}

/** The error's message, on one line. */
export function errorMessage(error: unknown): string {
  return String((error as { message?: string })?.message ?? error).split('\n')[0];
}

/**
 * The one line that says why validate could not talk to AWS, or undefined when the error is about
 * the resource asked for (not found, for example) and the caller decides.
 */
export function cannotRunReason(error: unknown, profile: string | undefined): string | undefined {
  const name = errorName(error);
  const message = errorMessage(error);
  const login = profile ? `aws sso login --profile ${profile}` : 'aws sso login (or export fresh AWS_* variables)';
  if (name === 'CredentialsProviderError' || /Could not load credentials|credential/i.test(message) && /load|provider|resolve/i.test(message)) {
    return `no AWS credentials: ${message} (set AWS_PROFILE or pass --profile, or run ${login})`;
  }
  if (['ExpiredToken', 'ExpiredTokenException', 'RequestExpired', 'TokenRefreshRequired'].includes(name) || /expired/i.test(message) && /token|credential/i.test(message)) {
    return `the AWS credentials have expired: refresh them (${login})`;
  }
  if (['InvalidClientTokenId', 'UnrecognizedClientException', 'SignatureDoesNotMatch', 'AuthFailure', 'InvalidSignatureException', 'IncompleteSignature'].includes(name)) {
    return `AWS rejected the credentials (${name}): check the access key and secret, or run ${login}`;
  }
  if (name === 'AccessDeniedException' || name === 'AccessDenied' || name === 'UnauthorizedOperation') {
    return `access denied: ${message} (give the caller the policy in the README, section 'Validate a deployed environment')`;
  }
  if (/Region is missing/i.test(message)) {
    return 'no region: pass --region or set AWS_REGION (or a region in the profile)';
  }
  if (['ECONNREFUSED', 'ENOTFOUND', 'ETIMEDOUT', 'EAI_AGAIN', 'ECONNRESET'].includes((error as { code?: string })?.code ?? '') || name === 'TimeoutError') {
    return `cannot reach AWS: ${message}`;
  }
  return undefined;
}
