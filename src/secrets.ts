import { createHash } from 'crypto';
import { Arn, ArnFormat, Duration, Stack, Token, Validations } from 'aws-cdk-lib';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as ssm from 'aws-cdk-lib/aws-ssm';
import { Construct } from 'constructs';
import { StagingValidationError } from './private/errors';
import { statefulLifecycle } from './private/lifecycle';
import { acknowledge, GUARD } from './private/posture';
import { BoundSecret, SecretContext } from './private/secret-binding';
import { validateIntegerRange, validateParameterName } from './private/validation';

/**
 * Options every secret source takes.
 */
export interface StagingSecretOptions {
  /**
   * Let the app read the secret at run time too, through the task role (for example to re-read a
   * rotated value without a restart).
   *
   * @default false - only ECS reads it, through the execution role, when a task starts
   */
  readonly runtimeAccess?: boolean;
}

/**
 * Options of a secret kept in Secrets Manager that already exists.
 */
export interface StagingExistingSecretOptions extends StagingSecretOptions {
  /**
   * JSON key of the secret's value to inject, when the secret holds a JSON object.
   *
   * @default - the whole secret string
   */
  readonly field?: string;

  /**
   * The customer-managed KMS key the secret is encrypted with: ECS (and, with runtime access, the
   * app) is granted `kms:Decrypt` on it.
   *
   * @default - the AWS managed key `aws/secretsmanager`, which needs no grant
   */
  readonly encryptionKey?: kms.IKey;
}

/**
 * How a generated secret rotates.
 */
export interface StagingSecretRotationOptions {
  /** The function that rotates the secret (for example one of the AWS rotation templates). */
  readonly rotationLambda: lambda.IFunction;

  /**
   * Time between rotations.
   *
   * @default Duration.days(30)
   */
  readonly automaticallyAfter?: Duration;
}

/**
 * Options of a secret that Secrets Manager generates.
 */
export interface StagingGeneratedSecretOptions extends StagingSecretOptions {
  /**
   * Length of the generated value.
   *
   * @default 32
   */
  readonly passwordLength?: number;

  /**
   * Characters the generated value never holds.
   *
   * @default - none excluded
   */
  readonly excludeCharacters?: string;

  /**
   * Leave punctuation out of the generated value.
   *
   * @default false
   */
  readonly excludePunctuation?: boolean;

  /**
   * A JSON object the generated value is added to, under `generateStringKey` / `generate_string_key`, for example
   * `'{"username":"app"}'`. Set both, or neither.
   *
   * @default - the secret is the generated value alone
   */
  readonly secretStringTemplate?: string;

  /**
   * Key of the generated value in the secret string template.
   *
   * @default - the secret is the generated value alone
   */
  readonly generateStringKey?: string;

  /**
   * JSON key of the secret's value to inject; with a template only.
   *
   * @default - the whole secret string
   */
  readonly field?: string;

  /**
   * Customer-managed KMS key to encrypt the secret with.
   *
   * @default - the AWS managed key `aws/secretsmanager`
   */
  readonly encryptionKey?: kms.IKey;

  /**
   * Rotate the secret on a schedule.
   *
   * @default - no rotation (the AwsSolutions-SMG4 finding is acknowledged, saying how to turn it on)
   */
  readonly rotation?: StagingSecretRotationOptions;
}

/**
 * Options of a SecureString parameter of SSM Parameter Store.
 */
export interface StagingSecureStringOptions extends StagingSecretOptions {
  /**
   * The customer-managed KMS key the parameter is encrypted with: ECS (and, with runtime access,
   * the app) is granted `kms:Decrypt` on it.
   *
   * @default - the AWS managed key `aws/ssm`, which needs no grant
   */
  readonly encryptionKey?: kms.IKey;
}

/**
 * A secret a container gets as an environment variable, resolved by ECS when a task starts: never
 * written into the task definition in plain text.
 */
export class StagingSecret {
  /**
   * A new secret in Secrets Manager with a generated value. Its name is generated too, so that
   * deleting and re-creating the environment never fails with "already exists"; it is retained on
   * stack deletion unless the environment is ephemeral.
   *
   * @param options how to generate it
   */
  public static generate(options: StagingGeneratedSecretOptions = {}): StagingSecret {
    return new StagingSecret(options, new GeneratedSecret(options));
  }

  /**
   * An existing secret of Secrets Manager, by name (without the random suffix Secrets Manager adds).
   *
   * @param secretName the secret's name, e.g. `staging/web/db`
   * @param options field, run-time access and key
   */
  public static fromSecretName(secretName: string, options: StagingExistingSecretOptions = {}): StagingSecret {
    return new StagingSecret(options, new ExistingSecret('fromSecretName', secretName, options, (scope, id) => (options.encryptionKey
      ? secretsmanager.Secret.fromSecretAttributes(scope, id, {
        secretPartialArn: Stack.of(scope).formatArn({ service: 'secretsmanager', resource: 'secret', resourceName: secretName, arnFormat: ArnFormat.COLON_RESOURCE_NAME }),
        encryptionKey: options.encryptionKey,
      })
      : secretsmanager.Secret.fromSecretNameV2(scope, id, secretName))));
  }

  /**
   * An existing secret of Secrets Manager, by its full ARN.
   *
   * @param secretArn the secret's ARN, `arn:aws:secretsmanager:<region>:<account>:secret:<name>-<suffix>`
   * @param options field, run-time access and key
   */
  public static fromSecretArn(secretArn: string, options: StagingExistingSecretOptions = {}): StagingSecret {
    return new StagingSecret(options, new ExistingSecret('fromSecretArn', secretArn, options,
      (scope, id) => secretsmanager.Secret.fromSecretAttributes(scope, id, { secretCompleteArn: secretArn, encryptionKey: options.encryptionKey })));
  }

  /**
   * An existing SecureString parameter of SSM Parameter Store.
   *
   * @param parameterName the parameter's name, e.g. `/staging/web/API_TOKEN`
   * @param options run-time access and key
   */
  public static fromSecureStringParameter(parameterName: string, options: StagingSecureStringOptions = {}): StagingSecret {
    return new StagingSecret(options, new SecureStringSecret(parameterName, options));
  }

  /** Whether the app may read the secret at run time through the task role. */
  public readonly runtimeAccess: boolean;

  /** What the kind of secret does when a service binds it. */
  private readonly binder: SecretBinder;

  // Private: a secret comes from one of the factories above. A public or protected initializer would
  // let Python (StagingSecret()) and TypeScript subclasses make a secret that fails only when bound.
  private constructor(options: StagingSecretOptions, binder: SecretBinder) {
    this.runtimeAccess = options.runtimeAccess ?? false;
    this.binder = binder;
  }

  /**
   * Creates or imports what the secret needs under `scope` and returns its ECS binding.
   *
   * @internal
   */
  public _bind(scope: Construct, id: string, context: SecretContext): BoundSecret {
    return this.binder.bind(scope, id, context);
  }
}

/** One kind of secret: creates or imports what it needs under a scope, and returns its ECS binding. */
interface SecretBinder {
  bind(scope: Construct, id: string, context: SecretContext): BoundSecret;
}

class GeneratedSecret implements SecretBinder {
  constructor(private readonly options: StagingGeneratedSecretOptions) {}

  public bind(scope: Construct, id: string, context: SecretContext): BoundSecret {
    validateGeneratedOptions(scope, `secrets.${context.variable}`, this.options);
    const secret = createGeneratedSecret(scope, id, context, this.options);
    return {
      ecsSecret: ecs.Secret.fromSecretsManager(secret, this.options.field),
      grantRuntimeRead: (grantee) => secret.grantRead(grantee),
    };
  }
}

/** Fails at synth on options Secrets Manager would refuse, or that leave `field` nothing to select. */
function validateGeneratedOptions(scope: Construct, where: string, o: StagingGeneratedSecretOptions): void {
  if ((o.secretStringTemplate === undefined) !== (o.generateStringKey === undefined)) {
    throw new StagingValidationError(scope, `${where}: secretStringTemplate and generateStringKey go together (got only ${o.secretStringTemplate === undefined ? 'generateStringKey' : 'secretStringTemplate'}); set both to generate a JSON secret, or neither`);
  }
  if (o.field !== undefined && o.secretStringTemplate === undefined) {
    throw new StagingValidationError(scope, `${where}: field '${o.field}' needs a JSON secret (got a plain generated value); set secretStringTemplate and generateStringKey, or drop field`);
  }
  if (o.secretStringTemplate !== undefined && !Token.isUnresolved(o.secretStringTemplate)) {
    let template: unknown;
    try {
      template = JSON.parse(o.secretStringTemplate);
    } catch {
      template = undefined;
    }
    if (typeof template !== 'object' || template === null || Array.isArray(template)) {
      throw new StagingValidationError(scope, `${where}: secretStringTemplate must be a JSON object (got '${o.secretStringTemplate}'); for example '{"username":"app"}'`);
    }
  }
  validateIntegerRange(scope, `${where}.passwordLength`, o.passwordLength, 1, 4096, 'Secrets Manager generates 1 to 4096 characters');
}

/** The generated secret, its rotation (or the reason there is none) and its key's acknowledgement. */
function createGeneratedSecret(scope: Construct, id: string, context: SecretContext, o: StagingGeneratedSecretOptions): secretsmanager.Secret {
  const secret = new secretsmanager.Secret(scope, id, {
    description: `${context.variable} of ${context.parameterPath} (cdk-ecs-staging)`,
    encryptionKey: o.encryptionKey,
    generateSecretString: {
      passwordLength: o.passwordLength ?? 32,
      excludeCharacters: o.excludeCharacters,
      excludePunctuation: o.excludePunctuation,
      secretStringTemplate: o.secretStringTemplate,
      generateStringKey: o.generateStringKey,
    },
    removalPolicy: statefulLifecycle(context.ephemeral).removalPolicy,
  });
  if (o.rotation) {
    secret.addRotationSchedule('Rotation', {
      rotationLambda: o.rotation.rotationLambda,
      automaticallyAfter: o.rotation.automaticallyAfter ?? Duration.days(30),
    });
  } else {
    const reason = 'A staging secret is generated once and read by ECS when a task starts. Rotate it with '
        + 'the rotation option of StagingSecret.generate() (a rotation function) where rotation is required.';
    Validations.of(secret).acknowledge(
      { id: 'AwsSolutions-SMG4', reason },
      { id: `${GUARD}::secretsmanager_rotation_enabled_check`, reason },
    );
  }
  if (o.encryptionKey === undefined) {
    acknowledge(secret, {
      reason: 'Encrypted with the AWS managed key aws/secretsmanager, which needs no key policy or grant. Pass encryptionKey where a customer-managed key is required.',
      guard: ['secretsmanager_using_cmk'],
      checkov: ['CKV_AWS_149'],
    });
  }
  return secret;
}

class ExistingSecret implements SecretBinder {
  constructor(
    private readonly factory: string,
    private readonly reference: string,
    private readonly options: StagingExistingSecretOptions,
    private readonly importSecret: (scope: Construct, id: string) => secretsmanager.ISecret,
  ) {}

  public bind(scope: Construct, id: string, context: SecretContext): BoundSecret {
    const where = `secrets.${context.variable}`;
    if (this.factory === 'fromSecretArn' && !Token.isUnresolved(this.reference)) {
      const parts = parseArn(this.reference);
      if (!parts || parts.service !== 'secretsmanager' || parts.resource !== 'secret' || !parts.resourceName) {
        throw new StagingValidationError(scope, `${where}: StagingSecret.fromSecretArn needs a Secrets Manager secret ARN (got '${this.reference}'); `
          + 'for example arn:aws:secretsmanager:us-east-1:123456789012:secret:staging/db-AbCdEf, or use StagingSecret.fromSecretName');
      }
      if (!COMPLETE_SECRET_NAME.test(parts.resourceName)) {
        throw new StagingValidationError(scope, `${where}: StagingSecret.fromSecretArn needs the complete ARN, ending in the 6 characters Secrets Manager adds to the name (got '${this.reference}'); `
          + 'copy it from the console or `aws secretsmanager describe-secret`, or use StagingSecret.fromSecretName with the name');
      }
    }
    if (this.factory === 'fromSecretName' && !Token.isUnresolved(this.reference)) {
      validateSecretName(scope, where, this.reference);
    }
    const secret = this.importSecret(scope, id);
    // By name, ECS asks Secrets Manager with the partial ARN (no suffix), and IAM checks that very
    // ARN: grant it as well as the name with any suffix (aws/aws-cdk#18555).
    const grantPartialArn = (grantee: iam.IGrantable) => {
      if (this.factory === 'fromSecretName') {
        iam.Grant.addToPrincipal({ grantee, actions: ['secretsmanager:GetSecretValue', 'secretsmanager:DescribeSecret'], resourceArns: [secret.secretArn] });
      }
    };
    grantPartialArn(context.executionRole);
    return {
      ecsSecret: ecs.Secret.fromSecretsManager(secret, this.options.field),
      grantRuntimeRead: (grantee) => {
        secret.grantRead(grantee);
        grantPartialArn(grantee);
      },
    };
  }
}

class SecureStringSecret implements SecretBinder {
  constructor(private readonly parameterName: string, private readonly options: StagingSecureStringOptions) {}

  public bind(scope: Construct, id: string, context: SecretContext): BoundSecret {
    validateParameterName(scope, 'secrets', context.variable, this.parameterName, 'pass the name of an existing SecureString parameter, e.g. \'/staging/web/API_TOKEN\'', false);
    const parameter = ssm.StringParameter.fromSecureStringParameterAttributes(scope, id, {
      parameterName: this.parameterName,
      encryptionKey: this.options.encryptionKey,
    });
    return {
      ecsSecret: ecs.Secret.fromSsmParameter(parameter),
      grantRuntimeRead: (grantee) => parameter.grantRead(grantee),
    };
  }
}

/**
 * Config and secrets of one app.
 */
export interface StagingSecretsOptions {
  /**
   * Plain configuration: each key becomes an SSM String parameter `<parameter path>/<KEY>`, injected
   * into the container under that name. A change of a value in code rolls the service.
   *
   * @default - none
   */
  readonly config?: { [key: string]: string };

  /**
   * Configuration from existing SSM String parameters: variable name -> parameter name (for
   * example a value shared by several services).
   *
   * @default - none
   */
  readonly configFromParameters?: { [key: string]: string };

  /**
   * Secrets, injected into the container under their variable names.
   *
   * @default - none
   */
  readonly secrets?: { [key: string]: StagingSecret };
}

/**
 * Properties of a `StagingSecrets`.
 */
export interface StagingSecretsProps extends StagingSecretsOptions {
  /** The container the config and secrets are injected into. */
  readonly container: ecs.ContainerDefinition;

  /** Path the config parameters are created under, e.g. `/staging/web`. */
  readonly parameterPath: string;

  /**
   * Role the app runs as: entries with runtime access are readable by it.
   *
   * @default - the task role of the container's task definition
   */
  readonly taskRole?: iam.IRole;

  /**
   * Delete generated secrets with the stack.
   *
   * @default false - generated secrets are retained
   */
  readonly ephemeral?: boolean;

  /**
   * Variable names the container already uses (its plain `environment`, what its image reads):
   * config and secrets may not reuse them.
   *
   * @default - none
   */
  readonly reservedNames?: string[];
}

/**
 * The config and secrets of a container: SSM String parameters for plain
 * config, Secrets Manager or SecureString parameters for secrets, all injected through the
 * container definition's `secrets`, which ECS resolves when a task starts.
 *
 * The execution role reads exactly the injected entries (their ARNs); the task role reads only the
 * entries marked for runtime access. A change of a config value in code changes the task definition
 * (a hash of the config as a Docker label), so the service rolls.
 */
export class StagingSecrets extends Construct {
  /** The SSM String parameters created for `config`, by variable name. */
  public readonly configParameters: { [key: string]: ssm.StringParameter } = {};

  /** SHA-256 of the config in code: a Docker label of the container, so a change rolls the service. */
  public readonly configHash: string;

  constructor(scope: Construct, id: string, props: StagingSecretsProps) {
    super(scope, id);
    const config = props.config ?? {};
    const fromParameters = props.configFromParameters ?? {};
    const secrets = props.secrets ?? {};
    validateNames(this, props.reservedNames ?? [], { config, configFromParameters: fromParameters, secrets });
    const taskRole = props.taskRole ?? props.container.taskDefinition.taskRole;

    // Sorted, so that reordering keys in code leaves the task definition as it is.
    for (const [key, value] of sortedEntries(config)) {
      const parameterName = `${props.parameterPath}/${key}`;
      validateParameterName(this, 'config', key, parameterName, 'shorten the key, the service name or environmentName');
      if (!Token.isUnresolved(value) && (value.length === 0 || Buffer.byteLength(value) > SSM_STANDARD_MAX_VALUE_BYTES)) {
        throw new StagingValidationError(this, `config.${key} must be 1 to ${SSM_STANDARD_MAX_VALUE_BYTES} bytes, the limit of a standard SSM parameter (got ${Buffer.byteLength(value)}); keep large values in S3 and pass their location`);
      }
      const parameter = new ssm.StringParameter(this, `Config${key}`, {
        parameterName,
        stringValue: value,
        description: `${key} of ${props.parameterPath} (cdk-ecs-staging config)`,
      });
      this.configParameters[key] = parameter;
      props.container.addSecret(key, ecs.Secret.fromSsmParameter(parameter));
    }
    for (const [key, parameterName] of sortedEntries(fromParameters)) {
      validateParameterName(this, 'configFromParameters', key, parameterName, 'pass the name of an existing String parameter, e.g. \'/shared/DATABASE_HOST\'', false);
      const parameter = ssm.StringParameter.fromStringParameterName(this, `Shared${key}`, parameterName);
      props.container.addSecret(key, ecs.Secret.fromSsmParameter(parameter));
    }
    for (const [key, secret] of sortedEntries(secrets)) {
      const bound = secret._bind(this, `Secret${key}`, {
        variable: key,
        parameterPath: props.parameterPath,
        ephemeral: props.ephemeral ?? false,
        executionRole: props.container.taskDefinition.obtainExecutionRole(),
      });
      props.container.addSecret(key, bound.ecsSecret);
      if (secret.runtimeAccess) {
        bound.grantRuntimeRead(taskRole);
      }
    }

    // Parameters are read by ECS when a task starts; the task definition references them by ARN,
    // so a new value alone would not start new tasks. The hash of the values in code does.
    // Resolved first, so a token hashes as the CloudFormation expression it stands for; sorted, so
    // reordering keys in code does not roll the service.
    const stack = Stack.of(this);
    const resolved = (entries: { [key: string]: string }) => sortedEntries(entries).map(([k, v]) => [k, stack.resolve(v)]);
    this.configHash = createHash('sha256').update(JSON.stringify([resolved(config), resolved(fromParameters)])).digest('hex').slice(0, 16);
    if (Object.keys(config).length + Object.keys(fromParameters).length > 0) {
      props.container.addDockerLabel(CONFIG_HASH_LABEL, this.configHash);
    }
  }
}

function sortedEntries<T>(entries: { [key: string]: T }): Array<[string, T]> {
  return Object.keys(entries).sort().map((key) => [key, entries[key]]);
}

/**
 * Fails unless `name` is the name of a secret that ECS can read by name. Secrets Manager names hold
 * 1-512 ASCII letters, digits and `/_+=.@-` (API reference, CreateSecret Name:
 * https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_CreateSecret.html). By name,
 * ECS asks for the secret's partial ARN, and Secrets Manager reads a name that ends in a hyphen and
 * six characters as a complete ARN whose last seven characters are its own random suffix, so the
 * request fails when a task starts ("Do not end your secret name with a hyphen followed by six
 * characters", same page; troubleshooting:
 * https://docs.aws.amazon.com/secretsmanager/latest/userguide/troubleshoot.html#ARN_secretnamehyphen).
 * aws-cdk-lib's `Secret.fromSecretNameV2` gives the same advice: use the complete ARN.
 */
function validateSecretName(scope: Construct, where: string, name: string): void {
  if (name.startsWith('arn:')) {
    throw new StagingValidationError(scope, `${where}: StagingSecret.fromSecretName takes a name (got the ARN '${name}'); use StagingSecret.fromSecretArn for an ARN`);
  }
  if (name.length === 0 || name.length > SECRET_NAME_MAX_LENGTH || !/^[A-Za-z0-9/_+=.@-]+$/.test(name)) {
    throw new StagingValidationError(scope, `${where}: StagingSecret.fromSecretName got '${name}' (${name.length} characters), and a Secrets Manager name is 1-${SECRET_NAME_MAX_LENGTH} `
      + 'ASCII letters, digits and /_+=.@-; pass the secret\'s name as Secrets Manager shows it, or its complete ARN to StagingSecret.fromSecretArn');
  }
  if (/-.{6}$/.test(name)) {
    throw new StagingValidationError(scope, `${where}: StagingSecret.fromSecretName got '${name}', which ends in a hyphen and six characters: Secrets Manager reads that as the `
      + 'random suffix of a complete ARN, so ECS cannot read the secret by name when a task starts; use StagingSecret.fromSecretArn with the secret\'s complete ARN '
      + `(aws secretsmanager describe-secret --secret-id ${name} --query ARN)`);
  }
}

/** Secrets Manager names hold at most 512 characters. */
const SECRET_NAME_MAX_LENGTH = 512;

/** The name part of a complete secret ARN ends in '-' and the 6 characters Secrets Manager adds. */
const COMPLETE_SECRET_NAME = /-[A-Za-z0-9]{6}$/;

/** Docker label that carries the config hash. */
const CONFIG_HASH_LABEL = 'cdk-ecs-staging.config-hash';

/** Standard-tier SSM parameters hold at most 4 KB. */
const SSM_STANDARD_MAX_VALUE_BYTES = 4096;

/** Variable names ECS and the AWS SDKs set in every Fargate task: config may not shadow them. */
const ECS_RESERVED_NAMES = [
  'AWS_CONTAINER_CREDENTIALS_RELATIVE_URI', 'AWS_CONTAINER_CREDENTIALS_FULL_URI', 'AWS_CONTAINER_AUTHORIZATION_TOKEN',
  'AWS_EXECUTION_ENV', 'AWS_REGION', 'AWS_DEFAULT_REGION',
];

/** Fails on an invalid, reserved or repeated variable name. */
function validateNames(scope: Construct, reserved: string[], groups: { [group: string]: { [key: string]: unknown } }): void {
  const seen = new Map<string, string>(reserved.map((name) => [name, 'environment']));
  for (const [group, entries] of Object.entries(groups)) {
    for (const key of Object.keys(entries)) {
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) {
        throw new StagingValidationError(scope, `${group} keys must be letters, digits and underscores, not starting with a digit (got '${key}'); rename the variable, e.g. '${key.replace(/[^A-Za-z0-9_]/g, '_').replace(/^(\d)/, '_$1')}'`);
      }
      if (ECS_RESERVED_NAMES.includes(key) || key.startsWith('ECS_')) {
        throw new StagingValidationError(scope, `${group}.${key} is a variable ECS sets in every task (got a reserved name); choose another name`);
      }
      const earlier = seen.get(key);
      if (earlier !== undefined) {
        throw new StagingValidationError(scope, `${group}.${key} is also set in ${earlier} (got the same name twice); a variable comes from one place only: rename or drop one of them`);
      }
      seen.set(key, group);
    }
  }
}

/** Fails unless `name` is a valid SSM parameter name (hierarchy, characters, length). */
function parseArn(arn: string): { service: string; resource: string; resourceName?: string } | undefined {
  try {
    const parts = Arn.split(arn, ArnFormat.COLON_RESOURCE_NAME);
    return { service: parts.service, resource: parts.resource, resourceName: parts.resourceName };
  } catch {
    return undefined;
  }
}
