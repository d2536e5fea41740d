/**
 * Property-based tests (fast-check) over the props of the environment.
 *
 * Random valid environments always synthesize and keep the invariants the library promises; random
 * invalid values always fail at construction with a StagingValidationError that names the prop.
 * fast-check prints the seed and the path of a failing case; replay it with FC_SEED=<seed>
 * (and FC_RUNS=<n> to change the number of runs).
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { App, CfnResource, Duration, NestedStack, Stack, Validations } from 'aws-cdk-lib';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as logs from 'aws-cdk-lib/aws-logs';
import { IConstruct } from 'constructs';
import * as fc from 'fast-check';
import {
  EcsStagingEnvironment, EcsStagingEnvironmentProps, NatStrategy, StagingSecret, StagingService, StagingServiceOptions,
} from '../src';
import { TEST_ENV, testApp, testZone } from './harness/apps';
import { formatFindings, postureFindings } from './harness/posture';
import { FARGATE_MEMORY_BY_CPU } from '../src/private/defaults';
import { StagingValidationError } from '../src/private/errors';
import { derivePriority } from '../src/private/routing';

/** Runs of each property: synth costs about 0.4 s an environment, construction alone far less. */
const RUNS = { valid: 40, invalid: 100, posture: 2 };

/**
 * @param endOnFailure report the first failing case as generated, without shrinking it: each run of a
 * synthesizing property takes seconds, and shrinking would take many of them
 */
function params(numRuns: number, endOnFailure = false): fc.Parameters<unknown> {
  const seed = process.env.FC_SEED !== undefined ? Number(process.env.FC_SEED) : undefined;
  const runs = process.env.FC_RUNS !== undefined ? Number(process.env.FC_RUNS) : numRuns;
  return { seed, numRuns: runs, endOnFailure };
}

const NGINX = 'public.ecr.aws/nginx/nginx:1.27';
const DOMAIN = 'staging.example.com';

// ---------------------------------------------------------------------------------------------
// Valid environments
// ---------------------------------------------------------------------------------------------

type RouteKind = 'path' | 'host' | 'hostAndPath';

interface ServiceCase {
  readonly name: string;
  readonly route: RouteKind | 'catchAll';
  readonly explicitPriority: boolean;
  readonly options: StagingServiceOptions;
}

interface EnvironmentCase {
  readonly nat: 'gatewayPerAz' | 'singleGateway' | 'instance' | 'none';
  readonly domain: boolean;
  readonly props: EcsStagingEnvironmentProps;
  readonly services: ServiceCase[];
}

const NAT = {
  gatewayPerAz: NatStrategy.gatewayPerAz, singleGateway: NatStrategy.singleGateway, instance: NatStrategy.instance, none: NatStrategy.none,
};

/** A valid Fargate size: a CPU value and one of its memory values. */
const size = fc.constantFrom(...Object.keys(FARGATE_MEMORY_BY_CPU).map(Number))
  .chain((cpu) => fc.constantFrom(...FARGATE_MEMORY_BY_CPU[cpu]).map((memoryLimitMiB) => ({ cpu, memoryLimitMiB })));

const autoScaling = fc.record({
  minCapacity: fc.integer({ min: 1, max: 3 }),
  extra: fc.integer({ min: 0, max: 4 }),
  targetCpuPercent: fc.option(fc.integer({ min: 10, max: 95 }), { nil: undefined }),
  targetMemoryPercent: fc.option(fc.integer({ min: 10, max: 95 }), { nil: undefined }),
  targetRequestsPerTarget: fc.option(fc.integer({ min: 1, max: 10_000 }), { nil: undefined }),
}).map(({ minCapacity, extra, ...rest }) => ({ minCapacity, maxCapacity: minCapacity + extra, ...rest }));

const serviceOptions: fc.Arbitrary<StagingServiceOptions> = fc.record({
  size,
  containerPort: fc.oneof(fc.constant(80), fc.constant(8080), fc.integer({ min: 1, max: 65535 })),
  healthCheckPath: fc.option(fc.stringMatching(/^\/[a-z0-9/_-]{0,30}$/), { nil: undefined }),
  scaling: fc.oneof(
    fc.record({ desiredCount: fc.option(fc.integer({ min: 1, max: 4 }), { nil: undefined }) }),
    autoScaling.map((a) => ({ autoScaling: a })),
  ),
  image: fc.boolean(),
  spot: fc.option(fc.boolean(), { nil: undefined }),
  cpuArchitecture: fc.option(fc.constantFrom(ecs.CpuArchitecture.X86_64, ecs.CpuArchitecture.ARM64), { nil: undefined }),
  enableExecuteCommand: fc.option(fc.boolean(), { nil: undefined }),
  readonlyRootFilesystem: fc.option(fc.boolean(), { nil: undefined }),
  user: fc.option(fc.constantFrom('1000', '1000:1000', '0'), { nil: undefined }),
  environment: fc.option(fc.constant({ LOG_FORMAT: 'json' }), { nil: undefined }),
  config: fc.option(fc.constant({ LOG_LEVEL: 'info' }), { nil: undefined }),
  secret: fc.boolean(),
  logRetention: fc.option(fc.constantFrom(logs.RetentionDays.TWO_WEEKS, logs.RetentionDays.ONE_MONTH, logs.RetentionDays.ONE_YEAR), {
    nil: undefined,
  }),
  imageTagImmutable: fc.option(fc.boolean(), { nil: undefined }),
  deregistrationDelay: fc.option(fc.integer({ min: 0, max: 300 }), { nil: undefined }),
}).map((o) => ({
  cpu: o.size.cpu,
  memoryLimitMiB: o.size.memoryLimitMiB,
  containerPort: o.containerPort,
  healthCheckPath: o.healthCheckPath,
  ...o.scaling,
  image: o.image ? ecs.ContainerImage.fromRegistry(NGINX) : undefined,
  spot: o.spot,
  cpuArchitecture: o.cpuArchitecture,
  enableExecuteCommand: o.enableExecuteCommand,
  readonlyRootFilesystem: o.readonlyRootFilesystem,
  user: o.user,
  environment: o.environment,
  config: o.config,
  secrets: o.secret ? { DB_PASSWORD: StagingSecret.generate({ excludePunctuation: true }) } : undefined,
  logRetention: o.logRetention,
  imageTagImmutable: o.imageTagImmutable,
  deregistrationDelay: o.deregistrationDelay !== undefined ? Duration.seconds(o.deregistrationDelay) : undefined,
}));

/** Service names: unique, so routes built from them never overlap or shadow one another. */
const serviceNames = fc.uniqueArray(fc.stringMatching(/^[a-z][a-z0-9]{0,11}$/), { minLength: 1, maxLength: 10 });

const environmentCase: fc.Arbitrary<EnvironmentCase> = fc.record({
  nat: fc.constantFrom('gatewayPerAz', 'singleGateway', 'instance', 'none') as fc.Arbitrary<EnvironmentCase['nat']>,
  domain: fc.boolean(),
  environmentName: fc.option(fc.stringMatching(/^[a-z][a-z0-9-]{0,14}[a-z0-9]$/).filter((n) => !/^(aws|ssm)/.test(n)), { nil: undefined }),
  ephemeral: fc.option(fc.boolean(), { nil: undefined }),
  emitOutputs: fc.option(fc.boolean(), { nil: undefined }),
  interfaceEndpoints: fc.option(fc.boolean(), { nil: undefined }),
  maxAzs: fc.option(fc.integer({ min: 2, max: 3 }), { nil: undefined }),
  allowedCidrs: fc.option(fc.constant<string[]>(['203.0.113.0/24']), { nil: undefined }),
  tags: fc.option(fc.constant({ team: 'payments' }), { nil: undefined }),
  catchAll: fc.boolean(),
  names: serviceNames,
}).chain((e) => fc.tuple(
  fc.constant(e),
  fc.array(fc.tuple(fc.constantFrom<RouteKind>('path', 'host', 'hostAndPath'), fc.boolean(), serviceOptions), { minLength: e.names.length, maxLength: e.names.length }),
)).map(([e, perService]) => ({
  nat: e.nat,
  domain: e.domain,
  props: {
    environmentName: e.environmentName,
    ephemeral: e.ephemeral,
    emitOutputs: e.emitOutputs,
    network: { natStrategy: NAT[e.nat](), interfaceEndpoints: e.interfaceEndpoints, maxAzs: e.maxAzs },
    edge: { allowedCidrs: e.allowedCidrs },
    tags: e.tags,
  },
  services: e.names.map((name, i) => ({
    name,
    route: e.catchAll && i === 0 ? 'catchAll' : perService[i][0],
    explicitPriority: perService[i][1],
    options: perService[i][2],
  })),
}));

/** The route of a service: a path and/or host of its own, so that no two routes overlap. */
function routeOf(service: ServiceCase, index: number): StagingServiceOptions {
  const host = [`${service.name}.apps.example.com`];
  const paths = [`/${service.name}/*`];
  const route = {
    catchAll: {},
    path: { pathPatterns: paths },
    host: { hostHeaders: host },
    hostAndPath: { hostHeaders: host, pathPatterns: paths },
  }[service.route];
  // Explicit priorities from the band no derived priority takes (48001-49000).
  return service.route !== 'catchAll' && service.explicitPriority ? { ...route, priority: 48001 + index } : route;
}

/**
 * Two routed services of one kind may derive the same priority (1 in 16000 a pair); the library then
 * asks for an explicit priority. Such a case is outside the valid space and is skipped.
 */
function derivedPrioritiesUnique(c: EnvironmentCase): boolean {
  const derived = c.services.map((s, i) => ({ s, r: routeOf(s, i) }))
    .filter(({ s, r }) => s.route !== 'catchAll' && r.priority === undefined)
    .map(({ s, r }) => derivePriority(s.name, { hosts: r.hostHeaders ?? (c.domain ? [DOMAIN] : []), paths: r.pathPatterns ?? [] }));
  return new Set(derived).size === derived.length;
}

/**
 * With a domain, each host of a route joins the certificate, which holds 10 names by default (the
 * domain and 9 hosts); more fail at synth with a message of their own (test/edge.test.ts). Such a
 * case is outside the valid space and is skipped.
 */
function certificateNamesFit(c: EnvironmentCase): boolean {
  return !c.domain || c.services.filter((s) => s.route === 'host' || s.route === 'hostAndPath').length <= 9;
}

function build(c: EnvironmentCase, outdir?: string): { app: App; env: EcsStagingEnvironment; services: StagingService[] } {
  const app = new App({ outdir, context: { [`availability-zones:account=${TEST_ENV.account}:region=${TEST_ENV.region}`]: ['us-east-1a', 'us-east-1b', 'us-east-1c'] } });
  const stack = new Stack(app, 'Prop', { env: TEST_ENV });
  const env = new EcsStagingEnvironment(stack, 'Staging', {
    ...c.props,
    domain: c.domain ? { domainName: DOMAIN, hostedZone: testZone(stack) } : undefined,
  });
  const services = c.services.map((s, i) => env.addService(s.name, { ...s.options, ...routeOf(s, i) }));
  return { app, env, services };
}

// ---------------------------------------------------------------------------------------------
// Invariants, read from the synthesized templates
// ---------------------------------------------------------------------------------------------

interface Synthesized {
  readonly dir: string;
  /** file name -> template */
  readonly templates: Map<string, any>;
  /** file name -> size in bytes */
  readonly bytes: Map<string, number>;
}

function synthesize(app: App): Synthesized {
  const assembly = app.synth();
  const templates = new Map<string, any>();
  const bytes = new Map<string, number>();
  for (const file of fs.readdirSync(assembly.directory).filter((f) => f.endsWith('.template.json'))) {
    const text = fs.readFileSync(path.join(assembly.directory, file), 'utf8');
    templates.set(file, JSON.parse(text));
    bytes.set(file, Buffer.byteLength(text));
  }
  return { dir: assembly.directory, templates, bytes };
}

function templateOf(synth: Synthesized, stack: Stack): any {
  return synth.templates.get(stack.templateFile);
}

function resources(template: any): Array<[string, any]> {
  return Object.entries(template.Resources ?? {});
}

/** The service security groups admit the load balancer's security group only, on the container port. */
function checkServiceIngress(synth: Synthesized, env: EcsStagingEnvironment, services: StagingService[]): void {
  const parent = Stack.of(env);
  const parentTemplate = templateOf(synth, parent);
  const lbGroup = { 'Fn::GetAtt': [parent.resolve((env.edge.securityGroup.node.defaultChild as CfnResource).logicalId), 'GroupId'] };
  // The group every task joins has no ingress at all.
  const servicesGroupId = parent.resolve((env.edge.servicesSecurityGroup.node.defaultChild as CfnResource).logicalId);
  expect(parentTemplate.Resources[servicesGroupId].Properties.SecurityGroupIngress).toBeUndefined();
  expect(resources(parentTemplate).filter(([, r]) => r.Type === 'AWS::EC2::SecurityGroupIngress'
    && JSON.stringify(r.Properties.GroupId).includes(servicesGroupId))).toEqual([]);

  for (const service of services) {
    const nested = Stack.of(service) as NestedStack;
    const template = templateOf(synth, nested);
    const groupId = nested.resolve((service.securityGroup.node.defaultChild as CfnResource).logicalId);
    const parameters = parentTemplate.Resources[parent.resolve(nested.nestedStackResource!.logicalId)].Properties.Parameters ?? {};
    const rules = [
      ...(template.Resources[groupId].Properties.SecurityGroupIngress ?? []),
      ...resources(template).filter(([, r]) => r.Type === 'AWS::EC2::SecurityGroupIngress' && JSON.stringify(r.Properties.GroupId).includes(groupId)).map(([, r]) => r.Properties),
    ];
    expect(rules).toHaveLength(1);
    for (const rule of rules) {
      expect(rule.CidrIp ?? rule.CidrIpv6 ?? rule.SourcePrefixListId).toBeUndefined();
      const source = rule.SourceSecurityGroupId;
      const resolved = source?.Ref !== undefined ? parameters[source.Ref] : source;
      expect(resolved).toEqual(lbGroup);
    }
  }
}

function isAcknowledged(construct: IConstruct, id: string): boolean {
  for (let c: IConstruct | undefined = construct; c; c = c.node.scope) {
    if (c.node.metadata.some((m) => m.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY && m.data && id in m.data)) {
      return true;
    }
  }
  return false;
}

/** No IAM statement on Resource `*` unless acknowledged on its policy, and never for ssm or secretsmanager. */
function checkWildcards(synth: Synthesized, app: App): void {
  for (const construct of app.node.findAll()) {
    if (!CfnResource.isCfnResource(construct) || !['AWS::IAM::Policy', 'AWS::IAM::Role'].includes(construct.cfnResourceType)) {
      continue;
    }
    const stack = Stack.of(construct);
    const resource = templateOf(synth, stack).Resources[stack.resolve(construct.logicalId)];
    const documents = construct.cfnResourceType === 'AWS::IAM::Policy'
      ? [resource.Properties.PolicyDocument]
      : (resource.Properties.Policies ?? []).map((p: any) => p.PolicyDocument);
    for (const statement of documents.flatMap((d: any) => d.Statement)) {
      const targets = [statement.Resource].flat();
      if (!targets.includes('*')) {
        continue;
      }
      const actions: string[] = [statement.Action].flat();
      const where = `${construct.node.path}: ${JSON.stringify(statement)}`;
      expect({ where, acknowledged: isAcknowledged(construct, 'AwsSolutions-IAM5[Resource::*]') }).toEqual({ where, acknowledged: true });
      expect({ where, secretActions: actions.filter((a) => /^(ssm|secretsmanager|kms):/.test(a)) }).toEqual({ where, secretActions: [] });
    }
  }
}

const STATEFUL = ['AWS::ECR::Repository', 'AWS::Logs::LogGroup', 'AWS::S3::Bucket', 'AWS::SecretsManager::Secret'];

function checkTemplates(synth: Synthesized, ephemeral: boolean): void {
  const priorities: number[] = [];
  for (const [file, template] of synth.templates) {
    const all = resources(template);
    for (const [id, r] of all) {
      if (STATEFUL.includes(r.Type)) {
        expect({ id, deletion: r.DeletionPolicy, replace: r.UpdateReplacePolicy })
          .toEqual({ id, deletion: ephemeral ? 'Delete' : 'Retain', replace: ephemeral ? 'Delete' : 'Retain' });
      }
      if (r.Type === 'AWS::Logs::LogGroup') {
        expect({ id, retention: typeof r.Properties?.RetentionInDays }).toEqual({ id, retention: 'number' });
      }
      if (r.Type === 'AWS::ElasticLoadBalancingV2::ListenerRule') {
        priorities.push(r.Properties.Priority);
      }
    }
    // CloudFormation's quotas (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/cloudformation-limits.html).
    expect({
      file,
      within: all.length <= 500 && Object.keys(template.Outputs ?? {}).length <= 200
      && Object.keys(template.Parameters ?? {}).length <= 200 && synth.bytes.get(file)! <= 1024 * 1024,
    }).toEqual({ file, within: true });
  }
  expect(new Set(priorities).size).toBe(priorities.length);
}

describe('property: valid environments', () => {
  test('always synthesize and keep the invariants', () => {
    let synthesized = 0;
    fc.assert(fc.property(environmentCase, (c) => {
      fc.pre(derivedPrioritiesUnique(c) && certificateNamesFit(c));
      const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'prop-'));
      try {
        const { app, env, services } = build(c, outdir);
        const synth = synthesize(app);
        synthesized++;
        expect(synth.templates.size).toBe(1 + services.length);
        checkServiceIngress(synth, env, services);
        checkWildcards(synth, app);
        checkTemplates(synth, c.props.ephemeral ?? false);
      } finally {
        fs.rmSync(outdir, { recursive: true, force: true });
      }
    }), params(RUNS.valid, true));
    expect(synthesized).toBeGreaterThan(0);
  });

  test('a few also pass cdk-nag AwsSolutions and the Control Tower controls', () => {
    // An explicit root user raises CT.ECS.PR.3 by the user's choice: the library rightly leaves that unacknowledged.
    const nonRoot = environmentCase.map((c) => ({ ...c, services: c.services.map((s) => ({ ...s, options: { ...s.options, user: s.options.user === '0' ? undefined : s.options.user } })) }));
    fc.assert(fc.property(nonRoot, (c) => {
      fc.pre(derivedPrioritiesUnique(c) && certificateNamesFit(c));
      const { app } = build(c);
      expect(formatFindings(postureFindings(app))).toBe('');
    }), params(RUNS.posture, true));
  });
});

// ---------------------------------------------------------------------------------------------
// Invalid values
// ---------------------------------------------------------------------------------------------

interface InvalidCase {
  /** The prop the message must name. */
  readonly prop: string;
  readonly env?: EcsStagingEnvironmentProps;
  readonly service?: StagingServiceOptions;
  readonly serviceName?: string;
}

const validCpus = Object.keys(FARGATE_MEMORY_BY_CPU).map(Number);
const badPathChar = fc.constantFrom(' ', '%', '#', '?x=1 ', '\\', '^', '|', '<', '`', '{');

const invalidCase: fc.Arbitrary<InvalidCase> = fc.oneof(
  fc.integer({ min: -100_000, max: 100_000 }).filter((cpu) => !validCpus.includes(cpu)).map((cpu) => ({ prop: 'cpu', service: { cpu } })),
  fc.constantFrom(...validCpus).chain((cpu) => fc.integer({ min: 1, max: 200_000 }).filter((m) => !FARGATE_MEMORY_BY_CPU[cpu].includes(m))
    .map((memoryLimitMiB) => ({ prop: 'memoryLimitMiB', service: { cpu, memoryLimitMiB } }))),
  fc.oneof(fc.integer({ max: 0 }), fc.integer({ min: 65536 }), fc.double({ min: 1, max: 65535, noInteger: true, noNaN: true }))
    .map((containerPort) => ({ prop: 'containerPort', service: { containerPort } })),
  fc.string({ minLength: 1 }).filter((p) => !p.startsWith('/')).map((healthCheckPath) => ({ prop: 'healthCheckPath', service: { healthCheckPath } })),
  // 0 is valid: a paused service.
  fc.oneof(fc.integer({ max: -1 }), fc.integer({ min: 101 })).map((desiredCount) => ({ prop: 'desiredCount', service: { desiredCount } })),
  fc.oneof(fc.integer({ max: 1 }), fc.integer({ min: 7 })).map((maxAzs) => ({ prop: 'maxAzs', env: { network: { maxAzs } } })),
  fc.oneof(
    fc.string({ minLength: 1 }).filter((n) => !/^[a-z][a-z0-9-]{0,23}$/.test(n) || n.endsWith('-')),
    fc.stringMatching(/^[a-z][a-z0-9]{24,40}$/),
  ).map((serviceName) => ({ prop: 'service name', serviceName })),
  fc.oneof(
    fc.string({ minLength: 1 }).filter((n) => !/^[a-z][a-z0-9-]*$/.test(n)),
    fc.stringMatching(/^[a-z][a-z0-9]{16,30}$/),
    fc.constantFrom('aws-staging', 'ssm1'),
  ).map((environmentName) => ({ prop: 'environmentName', env: { environmentName } })),
  fc.tuple(fc.stringMatching(/^\/[a-z]{0,10}$/), badPathChar).map(([p, bad]) => ({ prop: 'pathPatterns', service: { pathPatterns: [`${p}${bad}`] } })),
  fc.stringMatching(/^[a-z]{1,10}$/).map((p) => ({ prop: 'pathPatterns', service: { pathPatterns: [`${p}/*`] } })),
  fc.stringMatching(/^\/[a-z]{128,140}$/).map((p) => ({ prop: 'pathPatterns', service: { pathPatterns: [p] } })),
  fc.oneof(fc.stringMatching(/^[a-z]{1,20}$/), fc.stringMatching(/^[a-z]{1,10}[ :/#][a-z]{1,10}\.com$/), fc.stringMatching(/^[a-z]{1,10}\.[a-z]{0,3}[0-9]$/))
    .map((host) => ({ prop: 'hostHeaders', service: { hostHeaders: [host] } })),
  fc.oneof(fc.integer({ max: 0 }), fc.integer({ min: 49001 })).map((priority) => ({ prop: 'priority', service: { pathPatterns: ['/api/*'], priority } })),
  fc.oneof(fc.integer({ max: 9 }), fc.integer({ min: 96 }))
    .map((targetCpuPercent) => ({ prop: 'autoScaling.targetCpuPercent', service: { autoScaling: { maxCapacity: 2, targetCpuPercent } } })),
  fc.integer({ min: 3601, max: 100_000 }).map((s) => ({ prop: 'deregistrationDelay', service: { deregistrationDelay: Duration.seconds(s) } })),
  fc.oneof(fc.constant('aws:team'), fc.stringMatching(/^[a-z]{1,5}[#!$%^&*(){}[\]<>?,;"'|\\~`][a-z]{0,5}$/), fc.stringMatching(/^[a-z]{129,140}$/))
    .map((key) => ({ prop: 'tags', env: { tags: { [key]: 'x' } } })),
  fc.oneof(fc.string().filter((c) => !/^\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}\/\d{1,2}$/.test(c)), fc.constantFrom('10.0.0.0/8', '10.0.0.0/24', '10.0.0.1/16'))
    .map((cidr) => ({ prop: 'cidr', env: { network: { cidr } } })),
  fc.oneof(fc.constant(0), fc.integer({ min: 4001, max: 100_000 })).map((s) => ({ prop: 'idleTimeout', env: { edge: { idleTimeout: Duration.seconds(s) } } })),
  fc.oneof(fc.integer({ max: 0 }), fc.integer({ min: 3651 })).map((d) => ({ prop: 'accessLogsExpirationDays', env: { edge: { accessLogsExpirationDays: d } } })),
);

describe('property: invalid values', () => {
  test('always fail at construction with a StagingValidationError that names the prop', () => {
    fc.assert(fc.property(invalidCase, (c) => {
      const stack = new Stack(testApp(), 'Prop', { env: TEST_ENV });
      let error: unknown;
      try {
        const env = new EcsStagingEnvironment(stack, 'Staging', c.env);
        env.addService(c.serviceName ?? 'web', c.service);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(StagingValidationError);
      expect((error as Error).message).toContain(c.prop);
    }), params(RUNS.invalid));
  });
});
