import { CfnElement, Duration, Stack, Validations } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { EcsStagingEnvironment, StagingSecret, StagingSecrets, StagingService, StagingServiceOptions } from '../src';
import { testApp, TEST_ENV, testStack } from './harness/apps';
import { statementsOf } from './harness/iam';
import { formatFindings, postureFindings } from './harness/posture';

const SECRET_ARN = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:shared/api-key-AbCdEf';
const KEY_ARN = 'arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555';

/** The app container's definition. */
function containerOf(template: Template): Record<string, any> {
  const [taskDefinition] = Object.values(template.findResources('AWS::ECS::TaskDefinition'));
  return taskDefinition.Properties.ContainerDefinitions[0];
}

describe('StagingSecrets', () => {
  describe('on a service with every kind of source', () => {
    let web: StagingService;
    let key: kms.Key;
    let template: Template;
    let stack: Stack;
    beforeAll(() => {
      // GIVEN
      const parent = testStack();
      key = new kms.Key(parent, 'ParamKey', { enableKeyRotation: true });
      const env = new EcsStagingEnvironment(parent, 'Staging');
      // WHEN
      web = env.addService('web', {
        environment: { LOG_FORMAT: 'json' },
        config: { LOG_LEVEL: 'info', FEATURE_FLAGS: 'a,b' },
        configFromParameters: { SHARED_URL: '/shared/api-url' },
        secrets: {
          DB_PASSWORD: StagingSecret.generate({ excludePunctuation: true }),
          DB_USER: StagingSecret.generate({ secretStringTemplate: '{"username":"app"}', generateStringKey: 'password', field: 'username', runtimeAccess: true }),
          API_KEY: StagingSecret.fromSecretArn(SECRET_ARN, { field: 'key' }),
          LEGACY_TOKEN: StagingSecret.fromSecretName('legacy/token'),
          SIGNING_KEY: StagingSecret.fromSecureStringParameter('/shared/signing-key', { encryptionKey: key }),
        },
      });
      stack = Stack.of(web);
      template = Template.fromStack(stack);
    });

    test('creates one SSM String parameter per config key under /<environment>/<service>/', () => {
      template.hasResourceProperties('AWS::SSM::Parameter', { Name: '/staging/web/LOG_LEVEL', Type: 'String', Value: 'info' });
      template.hasResourceProperties('AWS::SSM::Parameter', { Name: '/staging/web/FEATURE_FLAGS', Type: 'String', Value: 'a,b' });
      // The two config parameters, the image parameter and the service's manifest: config parameters are not state and go with the stack.
      template.resourceCountIs('AWS::SSM::Parameter', 4);
      for (const parameter of Object.values(template.findResources('AWS::SSM::Parameter'))) {
        expect(parameter.DeletionPolicy).toBeUndefined();
      }
    });

    test('injects everything through the container definition\'s secrets, under the given names, and nothing as plain environment', () => {
      const container = containerOf(template);
      expect(container.Secrets.map((s: { Name: string }) => s.Name).sort()).toEqual(
        ['API_KEY', 'DB_PASSWORD', 'DB_USER', 'FEATURE_FLAGS', 'LEGACY_TOKEN', 'LOG_LEVEL', 'SHARED_URL', 'SIGNING_KEY']);
      const environmentNames = container.Environment.map((e: { Name: string }) => e.Name);
      expect(environmentNames).toContain('LOG_FORMAT');
      for (const name of ['LOG_LEVEL', 'DB_PASSWORD', 'API_KEY', 'SIGNING_KEY']) {
        expect(environmentNames).not.toContain(name);
      }
      // A JSON field is selected in the ARN ECS resolves; the value itself is never in the template.
      const byName = Object.fromEntries(container.Secrets.map((s: { Name: string; ValueFrom: unknown }) => [s.Name, JSON.stringify(s.ValueFrom)]));
      expect(byName.API_KEY).toBe(JSON.stringify(`${SECRET_ARN}:key::`));
      expect(byName.DB_USER).toMatch(/:username::/);
      expect(JSON.stringify(template.toJSON())).not.toMatch(/"SecretString"/);
    });

    test('generates the secrets in Secrets Manager with generated names, retained on stack deletion', () => {
      template.resourceCountIs('AWS::SecretsManager::Secret', 2);
      template.hasResource('AWS::SecretsManager::Secret', {
        DeletionPolicy: 'Retain',
        Properties: { Name: Match.absent(), GenerateSecretString: { PasswordLength: 32, ExcludePunctuation: true } },
      });
      template.hasResourceProperties('AWS::SecretsManager::Secret', {
        GenerateSecretString: Match.objectLike({ SecretStringTemplate: '{"username":"app"}', GenerateStringKey: 'password' }),
      });
    });

    test('lets the execution role read exactly the injected entries, by ARN, with kms:Decrypt only for the customer key in use', () => {
      const statements = statementsOf(web.executionRole);
      const text = JSON.stringify(statements);
      // No wildcard beyond ecr:GetAuthorizationToken and the name suffix of a secret imported by name.
      const wildcards = statements.filter((s) => JSON.stringify(s.Resource) === '"*"').flatMap((s) => [s.Action].flat());
      expect(wildcards).toEqual(['ecr:GetAuthorizationToken']);
      expect(text).not.toMatch(/parameter\/staging\/web\/\*|parameter\/\*|secret:\*/);
      for (const name of ['shared/api-url', 'shared/signing-key']) {
        expect(text).toContain(`:parameter/${name}`);
      }
      expect(text).toContain(SECRET_ARN);
      // By name, ECS asks with the partial ARN, which IAM checks as it is: both forms are granted.
      expect(text).toContain('secret:legacy/token-??????');
      expect(text).toMatch(/secret:legacy\/token"/);
      const decrypt = statements.filter((s) => [s.Action].flat().includes('kms:Decrypt'));
      expect(decrypt).toHaveLength(1);
      expect(JSON.stringify(decrypt[0].Resource)).toMatch(/ParamKey/);
      const secretReads = statements.filter((s) => [s.Action].flat().includes('secretsmanager:GetSecretValue'));
      expect(secretReads.length).toBeGreaterThanOrEqual(1);
    });

    test('lets the task role read only the entries marked for run-time access', () => {
      const statements = statementsOf(web.taskRole);
      expect(statements.flatMap((s) => [s.Action].flat())).toEqual(expect.arrayContaining(['secretsmanager:GetSecretValue']));
      const resources = statements.map((s) => JSON.stringify(s.Resource));
      expect(resources).toHaveLength(1);
      expect(resources[0]).toMatch(/SecretsSecretDBUSER/);
    });

    test('starts tasks only once the execution role may read every secret', () => {
      const policy = stack.getLogicalId(web.executionRole.node.findChild('DefaultPolicy').node.defaultChild as CfnElement);
      template.hasResource('AWS::ECS::Service', { DependsOn: Match.arrayWith([policy]) });
    });

    test('labels the container with a hash of the config, so a config change rolls the service', () => {
      expect(containerOf(template).DockerLabels).toEqual(expect.objectContaining({ 'cdk-ecs-staging.config-hash': web.secrets.configHash }));
      expect(web.secrets.configHash).toMatch(/^[0-9a-f]{16}$/);
    });

    test('acknowledges SMG4 on generated secrets without rotation, with how to turn it on', () => {
      for (const id of ['SecretDB_PASSWORD', 'SecretDB_USER']) {
        const secret = web.secrets.node.findChild(id);
        const acknowledged = secret.node.metadata
          .filter((m) => m.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY)
          .map((m) => JSON.stringify(m.data));
        expect(acknowledged.join()).toMatch(/AwsSolutions-SMG4.*the rotation option of StagingSecret.generate()/);
      }
    });
  });

  test('changes the task definition when a config value changes, and only then', () => {
    const definition = (config: Record<string, string>) => {
      const web = new EcsStagingEnvironment(testStack(), 'Staging').addService('web', { config });
      return JSON.stringify(containerOf(Template.fromStack(Stack.of(web))));
    };
    expect(definition({ LOG_LEVEL: 'info' })).toBe(definition({ LOG_LEVEL: 'info' }));
    expect(definition({ A: '1', B: '2' })).toBe(definition({ B: '2', A: '1' }));
    expect(definition({ LOG_LEVEL: 'info' })).not.toBe(definition({ LOG_LEVEL: 'debug' }));
  });

  test('rotates a generated secret on the schedule given, without acknowledging SMG4', () => {
    const parent = testStack();
    const rotator = lambda.Function.fromFunctionArn(parent, 'Rotator', 'arn:aws:lambda:us-east-1:123456789012:function:rotate');
    const web = new EcsStagingEnvironment(parent, 'Staging').addService('web', {
      secrets: { TOKEN: StagingSecret.generate({ rotation: { rotationLambda: rotator, automaticallyAfter: Duration.days(7) } }) },
    });
    Template.fromStack(Stack.of(web)).hasResourceProperties('AWS::SecretsManager::RotationSchedule', {
      RotationRules: { ScheduleExpression: 'rate(7 days)' },
    });
    const acknowledged = web.secrets.node.findChild('SecretTOKEN').node.metadata.filter((m) => m.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY);
    expect(JSON.stringify(acknowledged)).not.toContain('SMG4');
  });

  test('deletes generated secrets with an ephemeral environment', () => {
    const web = new EcsStagingEnvironment(testStack(), 'Staging', { ephemeral: true }).addService('web', { secrets: { TOKEN: StagingSecret.generate() } });
    Template.fromStack(Stack.of(web)).hasResource('AWS::SecretsManager::Secret', { DeletionPolicy: 'Delete' });
  });

  test('works alone on any container definition', () => {
    // GIVEN: a task definition of the user's own
    const stack = testStack();
    const taskDefinition = new ecs.FargateTaskDefinition(stack, 'Task');
    const container = taskDefinition.addContainer('app', { image: ecs.ContainerImage.fromRegistry('public.ecr.aws/nginx/nginx:1.27') });
    // WHEN
    new StagingSecrets(stack, 'Secrets', { container, parameterPath: '/qa/api', config: { MODE: 'qa' }, secrets: { TOKEN: StagingSecret.generate({ runtimeAccess: true }) } });
    // THEN
    const template = Template.fromStack(stack);
    template.hasResourceProperties('AWS::SSM::Parameter', { Name: '/qa/api/MODE', Value: 'qa' });
    expect(containerOf(template).Secrets.map((s: { Name: string }) => s.Name)).toEqual(['MODE', 'TOKEN']);
  });

  test('is posture-clean with every kind of source (cdk-nag AwsSolutions incl. SMG4 and ECS2, Control Tower)', () => {
    const app = testApp();
    const parent = new Stack(app, 'Secrets', { env: TEST_ENV });
    const key = kms.Key.fromKeyArn(parent, 'ParamKey', 'arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555');
    new EcsStagingEnvironment(parent, 'Staging').addService('web', {
      user: '1000',
      config: { LOG_LEVEL: 'info' },
      configFromParameters: { SHARED_URL: '/shared/api-url' },
      secrets: {
        DB_PASSWORD: StagingSecret.generate({ runtimeAccess: true }),
        API_KEY: StagingSecret.fromSecretArn(SECRET_ARN, { field: 'key' }),
        LEGACY_TOKEN: StagingSecret.fromSecretName('legacy/token'),
        SIGNING_KEY: StagingSecret.fromSecureStringParameter('/shared/signing-key', { encryptionKey: key }),
      },
    });
    expect(formatFindings(postureFindings(app))).toBe('');
  });

  test('reads a secret by a name that Secrets Manager cannot take for an ARN', () => {
    // GIVEN: names ending in a hyphen and five or seven characters, and every character a name may hold
    const web = new EcsStagingEnvironment(testStack(), 'Staging').addService('web', {
      secrets: {
        A: StagingSecret.fromSecretName('db-token'),
        B: StagingSecret.fromSecretName('db-secrets'),
        C: StagingSecret.fromSecretName('team/app_1+x=y.z@staging'),
      },
    });
    // THEN: each is granted by its partial ARN and by the name with any suffix
    const text = JSON.stringify(statementsOf(web.executionRole));
    for (const name of ['db-token', 'db-secrets', 'team/app_1+x=y.z@staging']) {
      expect(text).toContain(`secret:${name}-??????`);
      expect(text).toContain(`secret:${name}"`);
    }
  });

  describe('fails at synth on bad input', () => {
    const addWeb = (options: StagingServiceOptions) => () => new EcsStagingEnvironment(testStack(), 'Staging').addService('web', options);
    const PREFIX = 'Test/Staging/web/Service/Secrets: ';

    test.each([
      ['an invalid variable name', { config: { 'LOG-LEVEL': 'info' } },
        "config keys must be letters, digits and underscores, not starting with a digit (got 'LOG-LEVEL'); rename the variable, e.g. 'LOG_LEVEL'"],
      ['the same name in environment and config', { environment: { LOG_LEVEL: 'x' }, config: { LOG_LEVEL: 'info' } },
        'config.LOG_LEVEL is also set in environment (got the same name twice); a variable comes from one place only: rename or drop one of them'],
      ['the same name in config and secrets', { config: { TOKEN: 'x' }, secrets: { TOKEN: StagingSecret.generate() } },
        'secrets.TOKEN is also set in config (got the same name twice); a variable comes from one place only: rename or drop one of them'],
      ['a name ECS sets', { config: { AWS_REGION: 'eu-west-1' } },
        'config.AWS_REGION is a variable ECS sets in every task (got a reserved name); choose another name'],
      ['a name the placeholder reads', { config: { SERVER_PORT: '80' } },
        'config.SERVER_PORT is also set in environment (got the same name twice); a variable comes from one place only: rename or drop one of them'],
      ['a config value over 4 KB', { config: { BIG: 'x'.repeat(4097) } },
        'config.BIG must be 1 to 4096 bytes, the limit of a standard SSM parameter (got 4097); keep large values in S3 and pass their location'],
      ['an invalid parameter name', { configFromParameters: { SHARED: 'not valid!' } },
        "`configFromParameters.SHARED` / `config_from_parameters.SHARED` makes the SSM parameter name 'not valid!', which holds a character an SSM parameter name rejects "
        + "(allowed: letters, digits, _ . - and / between levels); pass the name of an existing String parameter, e.g. '/shared/DATABASE_HOST'"],
      ['a config key that makes the parameter name longer than SSM takes', { config: { [`K${'E'.repeat(999)}`]: 'x' } },
        `\`config.K${'E'.repeat(999)}\` makes the SSM parameter name '/staging/web/K${'E'.repeat(999)}', which is 1013 characters, and an SSM parameter name takes 1-946 beside its ARN; `
        + 'shorten the key, the service name or environmentName'],
      ['a shared parameter 16 levels deep', { configFromParameters: { SHARED: `/${Array(16).fill('a').join('/')}` } },
        `\`configFromParameters.SHARED\` / \`config_from_parameters.SHARED\` makes the SSM parameter name '/${Array(16).fill('a').join('/')}', which has 16 levels, `
        + "over the 15 of an SSM parameter hierarchy; pass the name of an existing String parameter, e.g. '/shared/DATABASE_HOST'"],
      ['a SecureString parameter name with a space', { secrets: { TOKEN: StagingSecret.fromSecureStringParameter('/staging/web/API TOKEN') } },
        "`secrets.TOKEN` makes the SSM parameter name '/staging/web/API TOKEN', which holds a character an SSM parameter name rejects (allowed: letters, digits, _ . - and / between levels); "
        + "pass the name of an existing SecureString parameter, e.g. '/staging/web/API_TOKEN'"],
      ['a field on a plain generated secret', { secrets: { TOKEN: StagingSecret.generate({ field: 'x' }) } },
        "secrets.TOKEN: field 'x' needs a JSON secret (got a plain generated value); set secretStringTemplate and generateStringKey, or drop field"],
      ['a template without its key', { secrets: { TOKEN: StagingSecret.generate({ secretStringTemplate: '{}' }) } },
        'secrets.TOKEN: secretStringTemplate and generateStringKey go together (got only secretStringTemplate); set both to generate a JSON secret, or neither'],
      ['a template that is not a JSON object', { secrets: { TOKEN: StagingSecret.generate({ secretStringTemplate: '[1]', generateStringKey: 'k' }) } },
        'secrets.TOKEN: secretStringTemplate must be a JSON object (got \'[1]\'); for example \'{"username":"app"}\''],
      ['an ARN that is not a Secrets Manager ARN', { secrets: { TOKEN: StagingSecret.fromSecretArn('arn:aws:ssm:us-east-1:123456789012:parameter/x') } },
        "secrets.TOKEN: StagingSecret.fromSecretArn needs a Secrets Manager secret ARN (got 'arn:aws:ssm:us-east-1:123456789012:parameter/x'); "
        + 'for example arn:aws:secretsmanager:us-east-1:123456789012:secret:staging/db-AbCdEf, or use StagingSecret.fromSecretName'],
      ['a generated length Secrets Manager cannot make', { secrets: { TOKEN: StagingSecret.generate({ passwordLength: 0 }) } },
        'secrets.TOKEN.passwordLength must be an integer from 1 to 4096 (got 0); Secrets Manager generates 1 to 4096 characters'],
      ['a partial ARN', { secrets: { TOKEN: StagingSecret.fromSecretArn('arn:aws:secretsmanager:us-east-1:123456789012:secret:staging/db') } },
        "secrets.TOKEN: StagingSecret.fromSecretArn needs the complete ARN, ending in the 6 characters Secrets Manager adds to the name (got 'arn:aws:secretsmanager:us-east-1:123456789012:secret:staging/db'); "
        + 'copy it from the console or `aws secretsmanager describe-secret`, or use StagingSecret.fromSecretName with the name'],
      ['an ARN given as a name', { secrets: { TOKEN: StagingSecret.fromSecretName(SECRET_ARN) } },
        `secrets.TOKEN: StagingSecret.fromSecretName takes a name (got the ARN '${SECRET_ARN}'); use StagingSecret.fromSecretArn for an ARN`],
      ['a name that ends in a hyphen and six characters', { secrets: { DB: StagingSecret.fromSecretName('db-secret') } },
        "secrets.DB: StagingSecret.fromSecretName got 'db-secret', which ends in a hyphen and six characters: Secrets Manager reads that as the random suffix of a complete ARN, "
        + "so ECS cannot read the secret by name when a task starts; use StagingSecret.fromSecretArn with the secret's complete ARN "
        + '(aws secretsmanager describe-secret --secret-id db-secret --query ARN) [Python: StagingSecret.from_secret_name, StagingSecret.from_secret_arn]'],
      ['such a name with a customer-managed key too', { secrets: { DB: StagingSecret.fromSecretName('staging/db-AbCdEf', { encryptionKey: kms.Key.fromKeyArn(testStack(), 'K', KEY_ARN) }) } },
        "secrets.DB: StagingSecret.fromSecretName got 'staging/db-AbCdEf', which ends in a hyphen and six characters"],
      ['a secret name with a character Secrets Manager rejects', { secrets: { DB: StagingSecret.fromSecretName('staging/db password') } },
        "secrets.DB: StagingSecret.fromSecretName got 'staging/db password' (19 characters), and a Secrets Manager name is 1-512 ASCII letters, digits and /_+=.@-; "
        + "pass the secret's name as Secrets Manager shows it, or its complete ARN to StagingSecret.fromSecretArn"],
      ['a secret name over 512 characters', { secrets: { DB: StagingSecret.fromSecretName(`staging/${'d'.repeat(510)}`) } },
        `secrets.DB: StagingSecret.fromSecretName got 'staging/${'d'.repeat(510)}' (518 characters), and a Secrets Manager name is 1-512`],
    ])('fails on %s', (_, options, message) => {
      expect(addWeb(options as StagingServiceOptions)).toThrow(PREFIX + message);
    });
  });
});
