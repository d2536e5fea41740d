/**
 * parliament (PyPI, pinned), the offline IAM policy auditor, over the IAM policies of synthesized
 * templates. The venv is created once by the jest global setup (`global-setup.ts`) in .venv-parliament.
 *
 * parliament reads ARNs, not CloudFormation: every `Ref`, `Fn::GetAtt`, `Fn::Join`, `Fn::Sub`,
 * `Fn::Select` and `Fn::Split` in a policy is resolved first, by `TemplateResolver`, to the value AWS
 * returns for that resource type (its name or its ARN, in the ARN's real shape). A piece that it cannot
 * resolve throws: a policy the audit cannot read must fail the test, never drop out of it.
 */
import { spawnSync } from 'child_process';
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { REPO_ROOT } from './cfn-lint';
import { installPipTool } from './pip';

export const PARLIAMENT_VERSION = '1.6.4';
const VENV = path.join(REPO_ROOT, '.venv-parliament');
const PYTHON = path.join(VENV, 'bin', 'python');
const AUDIT_SCRIPT = path.join(__dirname, 'parliament_audit.py');

/** Account and partition the audit places every stack in (the region is the stack's own, else us-east-1). */
export const AUDIT_ACCOUNT = '123456789012';
const AUDIT_REGION = 'us-east-1';

/** Installs the pinned parliament unless it is there already. */
export function ensureParliament(): void {
  const version = fs.existsSync(PYTHON)
    ? spawnSync(PYTHON, ['-c', 'import parliament; print(parliament.__version__)'], { encoding: 'utf8' }).stdout
    : '';
  if (version.trim() === PARLIAMENT_VERSION) {
    return;
  }
  installPipTool(VENV, `parliament==${PARLIAMENT_VERSION}`);
}

/** What a policy document governs, which decides how it is read. */
export type PolicyKind = 'identity' | 'resource' | 'trust';

/** One IAM policy document, every intrinsic resolved. */
export interface AuditedPolicy {
  /** `<template file>#<logical ID>.<property>`, e.g. `Stack.template.json#RoleDefaultPolicy.PolicyDocument`. */
  readonly id: string;
  readonly kind: PolicyKind;
  readonly document: { Version?: string; Statement: Array<Record<string, any>> };
}

/** One finding of parliament. */
export interface ParliamentFinding {
  /** The policy's `AuditedPolicy.id`. */
  readonly policy: string;
  readonly kind: PolicyKind;
  /** The statement the finding is about; undefined for a finding about the whole document. */
  readonly statement?: Record<string, any>;
  /** parliament's issue, e.g. `RESOURCE_MISMATCH`. */
  readonly issue: string;
  readonly severity: string;
  /** The actions the finding names (from its detail), else every action of its statement. */
  readonly actions: string[];
  readonly detail: unknown;
}

/** Audits the policies in one python process and returns every finding, whatever its severity. */
export function parliament(policies: AuditedPolicy[]): ParliamentFinding[] {
  if (policies.length === 0) {
    throw new Error('parliament: no policies given');
  }
  const result = spawnSync(PYTHON, [AUDIT_SCRIPT], {
    input: JSON.stringify(policies.map((p) => ({ id: p.id, document: p.document }))),
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  if (result.error || result.status !== 0) {
    throw new Error(`parliament failed (exit ${result.status}): ${result.error?.message ?? result.stderr}`);
  }
  const output = JSON.parse(result.stdout) as { version: string; policies: number; findings: any[] };
  if (output.version !== PARLIAMENT_VERSION || output.policies !== policies.length) {
    throw new Error(`parliament ${output.version} audited ${output.policies} of ${policies.length} policies`);
  }
  const byId = new Map(policies.map((p) => [p.id, p]));
  return output.findings.map((f) => {
    const policy = byId.get(f.policy)!;
    const statement = f.statement === null ? undefined : policy.document.Statement[f.statement];
    return {
      policy: f.policy,
      kind: policy.kind,
      statement,
      issue: f.issue,
      severity: f.severity,
      actions: actionsOf(f, statement),
      detail: f.detail,
    };
  });
}

/** The actions a finding is about: named in its detail where parliament names them, else its statement's. */
function actionsOf(f: { issue: string; detail: unknown; string: unknown }, statement?: Record<string, any>): string[] {
  if (Array.isArray(f.detail) && f.detail.every((d) => typeof d === 'object' && d && 'action' in d)) {
    return f.detail.map((d: any) => d.action);
  }
  if (Array.isArray(f.detail) && f.detail.every((d) => typeof d === 'string' && d.includes(':'))) {
    return f.detail as string[]; // RESOURCE_STAR lists the actions that were given "*"
  }
  const named = typeof f.detail === 'string' ? /for action (\S+)$|but does allow (\S+)$/.exec(f.detail) : null;
  if (named) {
    return [named[1] ?? named[2]]; // UNKNOWN_CONDITION_FOR_ACTION, RESOURCE_POLICY_PRIVILEGE_ESCALATION
  }
  if ((f.issue === 'UNKNOWN_ACTION' || f.issue === 'UNKNOWN_PREFIX') && typeof f.string === 'string') {
    return [f.string];
  }
  const actions = statement?.Action ?? statement?.NotAction ?? [];
  return Array.isArray(actions) ? actions : [actions];
}

/** One line per finding, for failure messages. */
export function formatFinding(f: ParliamentFinding): string {
  return `${f.issue} ${f.actions.join(',')} in ${f.policy}: ${JSON.stringify(f.detail)} ${JSON.stringify(f.statement?.Resource ?? '')}`;
}

// ---------------------------------------------------------------------------------------------
// Policies out of templates

/**
 * Properties that hold a policy document, by resource type. Any other property whose name says it
 * holds a policy document makes `policiesOf` throw, so a new kind of policy cannot go unaudited.
 */
const POLICY_PROPERTIES: Record<string, Record<string, PolicyKind>> = {
  'AWS::IAM::Policy': { PolicyDocument: 'identity' },
  'AWS::IAM::ManagedPolicy': { PolicyDocument: 'identity' },
  'AWS::IAM::Role': { AssumeRolePolicyDocument: 'trust' /* and Policies[], below */ },
  'AWS::S3::BucketPolicy': { PolicyDocument: 'resource' },
  'AWS::SNS::TopicPolicy': { PolicyDocument: 'resource' },
  'AWS::SQS::QueuePolicy': { PolicyDocument: 'resource' },
  'AWS::KMS::Key': { KeyPolicy: 'resource' },
  'AWS::ECR::Repository': { RepositoryPolicyText: 'resource' },
  'AWS::SecretsManager::ResourcePolicy': { ResourcePolicy: 'resource' },
  'AWS::Logs::ResourcePolicy': { PolicyDocument: 'resource' },
};
const LOOKS_LIKE_A_POLICY = /PolicyDocument|PolicyText|^KeyPolicy$|^ResourcePolicy$|^Policies$/;

/**
 * Every IAM policy document of every template in a cloud assembly directory (a `cdk.out` or an integ
 * snapshot), nested stacks included, each intrinsic resolved.
 *
 * Trust policies name no resource (the role they belong to is the resource); the audit gives each
 * statement the role's own ARN as `Resource`, which is what IAM evaluates `sts:AssumeRole*` against,
 * so parliament can check the actions and condition keys against the role resource type.
 */
export function policiesOf(assemblyDir: string, filter: (templateFile: string) => boolean = () => true): AuditedPolicy[] {
  const stacks = loadAssembly(assemblyDir);
  return stacks.filter((s) => filter(s.file)).flatMap((stack) => {
    const policies: AuditedPolicy[] = [];
    for (const [logicalId, resource] of Object.entries<any>(stack.template.Resources ?? {})) {
      const known = POLICY_PROPERTIES[resource.Type] ?? {};
      for (const [property, value] of Object.entries<any>(resource.Properties ?? {})) {
        const id = `${stack.file}#${logicalId}.${property}`;
        if (resource.Type === 'AWS::IAM::Role' && property === 'Policies') {
          (value as any[]).forEach((inline, i) => policies.push({
            id: `${id}[${i}:${inline.PolicyName}]`, kind: 'identity', document: normalize(stack.resolve(inline.PolicyDocument, id)),
          }));
        } else if (known[property]) {
          const document = normalize(typeof value === 'string' ? JSON.parse(value) : stack.resolve(value, id));
          if (known[property] === 'trust') {
            const roleArn = stack.getAtt(logicalId, 'Arn', id);
            document.Statement = document.Statement.map((s) => ({ ...s, Resource: roleArn }));
          }
          policies.push({ id, kind: known[property], document });
        } else if (LOOKS_LIKE_A_POLICY.test(property)) {
          throw new Error(`${id}: a policy property the audit does not read; add ${resource.Type}.${property} to POLICY_PROPERTIES`);
        }
      }
    }
    return policies;
  });
}

/** A document with its Statement always an array. */
function normalize(document: any): AuditedPolicy['document'] {
  return { ...document, Statement: Array.isArray(document.Statement) ? document.Statement : [document.Statement] };
}

// ---------------------------------------------------------------------------------------------
// Resolving intrinsics to the values AWS returns

interface LoadedStack {
  readonly file: string;
  readonly template: any;
  resolve(value: unknown, where: string): any;
  getAtt(logicalId: string, attribute: string, where: string): string;
}

/** Loads the templates of an assembly and links each nested stack to the resource that creates it. */
function loadAssembly(dir: string): LoadedStack[] {
  const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8'));
  const resolvers = new Map<string, TemplateResolver>();
  // Top-level stacks: their name and region from the manifest.
  for (const artifact of Object.values<any>(manifest.artifacts ?? {})) {
    if (artifact.type !== 'aws:cloudformation:stack') {
      continue;
    }
    const file = artifact.properties.templateFile;
    const region = /^aws:\/\/[^/]+\/(.+)$/.exec(artifact.environment ?? '')?.[1];
    const stackName = artifact.properties.stackName ?? artifact.displayName ?? file.replace(/\.template\.json$/, '');
    resolvers.set(file, new TemplateResolver(file, readJson(dir, file), {
      stackName,
      region: region && region !== 'unknown-region' ? region : AUDIT_REGION,
    }));
  }
  // Nested stacks: the asset manifests name each template's hash, which the parent's TemplateURL ends with.
  const fileOfHash = new Map<string, string>();
  for (const assets of fs.readdirSync(dir).filter((f) => f.endsWith('.assets.json'))) {
    for (const [hash, asset] of Object.entries<any>(readJson(dir, assets).files ?? {})) {
      fileOfHash.set(hash, asset.source.path);
    }
  }
  const pending = [...resolvers.values()];
  while (pending.length > 0) {
    const parent = pending.pop()!;
    for (const [logicalId, resource] of Object.entries<any>(parent.template.Resources ?? {})) {
      if (resource.Type !== 'AWS::CloudFormation::Stack') {
        continue;
      }
      const hash = /([0-9a-f]{64})\.json/.exec(JSON.stringify(resource.Properties.TemplateURL))?.[1];
      const file = hash && fileOfHash.get(hash);
      if (!file) {
        throw new Error(`${parent.file}#${logicalId}: no template in ${dir} for TemplateURL ${JSON.stringify(resource.Properties.TemplateURL)}`);
      }
      const child = new TemplateResolver(file, readJson(dir, file), {
        // CloudFormation names a nested stack <parent>-<logical ID>-<suffix>.
        stackName: `${parent.context.stackName}-${logicalId}-${suffix(file, 12)}`,
        region: parent.context.region,
        parent: { resolver: parent, parameters: resource.Properties.Parameters ?? {}, logicalId },
      });
      resolvers.set(file, child);
      parent.children.set(logicalId, child);
      pending.push(child);
    }
  }
  const onDisk = fs.readdirSync(dir).filter((f) => f.endsWith('.template.json'));
  const unlinked = onDisk.filter((f) => !resolvers.has(f));
  if (unlinked.length > 0) {
    throw new Error(`${dir}: templates neither in the manifest nor nested in one that is: ${unlinked.join(', ')}`);
  }
  return onDisk.map((f) => resolvers.get(f)!);
}

function readJson(dir: string, file: string): any {
  return JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8'));
}

/** A stable stand-in for the random part of a name CloudFormation generates. */
function suffix(seed: string, length: number): string {
  return createHash('sha256').update(seed).digest('base64').replace(/[^A-Za-z0-9]/g, '').toUpperCase().slice(0, length);
}

interface StackContext {
  readonly stackName: string;
  readonly region: string;
  readonly parent?: { readonly resolver: TemplateResolver; readonly parameters: Record<string, unknown>; readonly logicalId: string };
}

/**
 * Resolves the intrinsics of one template to the values CloudFormation would give them. Each rule
 * follows the "Return values" section of the resource type's page in the CloudFormation template
 * reference, https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-template-resource-type-ref.html
 */
export class TemplateResolver implements LoadedStack {
  /** The resolvers of the nested stacks this template creates, by their logical ID here. */
  readonly children = new Map<string, TemplateResolver>();

  constructor(readonly file: string, readonly template: any, readonly context: StackContext) {}

  /** `value` with every intrinsic replaced by its value; throws on anything it cannot resolve. */
  resolve(value: unknown, where: string): any {
    if (Array.isArray(value)) {
      // A Ref to AWS::NoValue drops the element, as CloudFormation does.
      return value.map((v) => this.resolve(v, where)).filter((v) => v !== NO_VALUE);
    }
    if (value === null || typeof value !== 'object') {
      return value;
    }
    const keys = Object.keys(value);
    if (keys.length === 1 && (keys[0] === 'Ref' || keys[0].startsWith('Fn::'))) {
      return this.intrinsic(keys[0], (value as any)[keys[0]], where);
    }
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      const resolved = this.resolve(v, where);
      if (resolved !== NO_VALUE) {
        out[k] = resolved;
      }
    }
    return out;
  }

  private intrinsic(name: string, arg: any, where: string): any {
    switch (name) {
      case 'Ref':
        return this.ref(arg, where);
      case 'Fn::GetAtt': {
        const [logicalId, attribute] = typeof arg === 'string' ? arg.split(/\.(.*)/) : arg;
        return this.getAtt(logicalId, this.resolveString(attribute, where), where);
      }
      case 'Fn::Join': {
        const [delimiter, parts] = arg;
        return (this.resolve(parts, where) as unknown[]).map((p) => this.mustBeString(p, 'Fn::Join', where)).join(delimiter);
      }
      case 'Fn::Sub':
        return this.sub(arg, where);
      case 'Fn::Select': {
        const [index, list] = arg;
        const items = this.resolve(list, where);
        const i = Number(this.resolve(index, where));
        if (!Array.isArray(items) || !(i in items)) {
          throw new Error(`${where}: Fn::Select ${i} out of ${JSON.stringify(items)}`);
        }
        return items[i];
      }
      case 'Fn::Split': {
        const [delimiter, source] = arg;
        return this.resolveString(source, where).split(delimiter);
      }
      default:
        throw new Error(`${where}: cannot resolve ${name} ${JSON.stringify(arg)} in ${this.file}`);
    }
  }

  private resolveString(value: unknown, where: string): string {
    return this.mustBeString(this.resolve(value, where), JSON.stringify(value), where);
  }

  private mustBeString(value: unknown, what: string, where: string): string {
    if (typeof value !== 'string') {
      throw new Error(`${where}: ${what} resolved to ${JSON.stringify(value)}, not a string`);
    }
    return value;
  }

  private sub(arg: any, where: string): string {
    const [text, variables] = typeof arg === 'string' ? [arg, {}] : arg;
    return (text as string).replace(/\$\{([^}]*)\}/g, (match, name: string) => {
      if (name.startsWith('!')) {
        return '${' + name.slice(1) + '}'; // ${!Literal} is the literal ${Literal}
      }
      if (name in variables) {
        return this.resolveString(variables[name], where);
      }
      const dot = name.indexOf('.');
      if (dot > 0 && this.template.Resources?.[name.slice(0, dot)]) {
        return this.getAtt(name.slice(0, dot), name.slice(dot + 1), where);
      }
      return this.mustBeString(this.ref(name, where), match, where);
    });
  }

  private get partition(): string {
    return this.context.region.startsWith('cn-') ? 'aws-cn' : this.context.region.startsWith('us-gov-') ? 'aws-us-gov' : 'aws';
  }

  private arn(service: string, resource: string, region = this.context.region, account = AUDIT_ACCOUNT): string {
    return `arn:${this.partition}:${service}:${region}:${account}:${resource}`;
  }

  /** `Ref`: pseudo parameters, parameters (a nested stack's from its parent) and resources. */
  ref(name: string, where: string): any {
    switch (name) {
      case 'AWS::AccountId': return AUDIT_ACCOUNT;
      case 'AWS::Region': return this.context.region;
      case 'AWS::Partition': return this.partition;
      case 'AWS::URLSuffix': return this.partition === 'aws-cn' ? 'amazonaws.com.cn' : 'amazonaws.com';
      case 'AWS::StackName': return this.context.stackName;
      case 'AWS::StackId': return this.arn('cloudformation', `stack/${this.context.stackName}/${uuid(this.context.stackName)}`);
      case 'AWS::NoValue': return NO_VALUE;
    }
    if (this.template.Parameters?.[name]) {
      const parent = this.context.parent;
      if (parent && name in parent.parameters) {
        return parent.resolver.resolve(parent.parameters[name], `${where} (parameter ${name} of ${parent.logicalId})`);
      }
      throw new Error(`${where}: parameter ${name} of ${this.file} has no value the audit can know`);
    }
    const resource = this.resource(name, where);
    const type: string = resource.Type;
    // Types whose Ref is an ARN or an ID, not the name.
    switch (type) {
      case 'AWS::SNS::Topic':
      case 'AWS::SecretsManager::Secret':
      case 'AWS::ECS::Service':
      case 'AWS::ECS::TaskDefinition':
      case 'AWS::IAM::OIDCProvider':
      case 'AWS::IAM::ManagedPolicy':
      case 'AWS::StepFunctions::StateMachine':
      case 'AWS::ElasticLoadBalancingV2::LoadBalancer':
      case 'AWS::ElasticLoadBalancingV2::TargetGroup':
      case 'AWS::ElasticLoadBalancingV2::Listener':
        return this.getAtt(name, 'Arn', where);
      case 'AWS::KMS::Key':
        return uuid(`${this.file}/${name}`);
      case 'AWS::EC2::VPC':
        return `vpc-${hexId(this.file + name)}`;
      case 'AWS::EC2::Subnet':
        return `subnet-${hexId(this.file + name)}`;
      case 'AWS::EC2::SecurityGroup':
        return this.getAtt(name, 'GroupId', where);
      case 'AWS::SQS::Queue':
        return `https://sqs.${this.context.region}.amazonaws.com/${AUDIT_ACCOUNT}/${this.nameOf(name, where)}`;
      case 'AWS::Events::Rule': {
        // The rule's name; on another bus than the default one, `<bus>|<name>`.
        const bus = resource.Properties?.EventBusName;
        return bus && bus !== 'default' ? `${this.resolveString(bus, where)}|${this.nameOf(name, where)}` : this.nameOf(name, where);
      }
    }
    return this.nameOf(name, where);
  }

  /** `Fn::GetAtt`, for the attributes that policies here name. */
  getAtt(logicalId: string, attribute: string, where: string): string {
    const resource = this.resource(logicalId, where);
    const type: string = resource.Type;
    const key = `${type}.${attribute}`;
    const name = () => this.nameOf(logicalId, where);
    // A nested stack's output: the value its template gives it.
    const child = this.children.get(logicalId);
    if (type === 'AWS::CloudFormation::Stack' && attribute.startsWith('Outputs.') && child) {
      const output = child.template.Outputs?.[attribute.slice('Outputs.'.length)];
      if (output) {
        return child.resolve(output.Value, `${where} (output ${attribute} of ${logicalId})`);
      }
    }
    switch (key) {
      case 'AWS::S3::Bucket.Arn': return `arn:${this.partition}:s3:::${name()}`;
      case 'AWS::ECR::Repository.Arn': return this.arn('ecr', `repository/${name()}`);
      // The ARN of a log group names its streams: it ends in `:*`.
      case 'AWS::Logs::LogGroup.Arn': return this.arn('logs', `log-group:${name()}:*`);
      case 'AWS::IAM::Role.Arn': return `arn:${this.partition}:iam::${AUDIT_ACCOUNT}:role${this.iamPath(resource, where)}${name()}`;
      case 'AWS::IAM::ManagedPolicy.Arn':
      case 'AWS::IAM::ManagedPolicy.PolicyArn': return `arn:${this.partition}:iam::${AUDIT_ACCOUNT}:policy${this.iamPath(resource, where)}${name()}`;
      case 'AWS::IAM::OIDCProvider.Arn': {
        const url = this.resolveString(resource.Properties.Url, where);
        return `arn:${this.partition}:iam::${AUDIT_ACCOUNT}:oidc-provider/${url.replace(/^https:\/\//, '')}`;
      }
      case 'AWS::Lambda::Function.Arn': return this.arn('lambda', `function:${name()}`);
      case 'AWS::CodeBuild::Project.Arn': return this.arn('codebuild', `project/${name()}`);
      case 'AWS::CodePipeline::Pipeline.Arn': return this.arn('codepipeline', name(), this.context.region);
      case 'AWS::Events::Rule.Arn': {
        const bus = resource.Properties?.EventBusName;
        return this.arn('events', bus && bus !== 'default' ? `rule/${this.resolveString(bus, where)}/${name()}` : `rule/${name()}`);
      }
      case 'AWS::SNS::Topic.Arn':
      case 'AWS::SNS::Topic.TopicArn': return this.arn('sns', name());
      case 'AWS::SQS::Queue.Arn': return this.arn('sqs', name());
      case 'AWS::Scheduler::ScheduleGroup.Arn': return this.arn('scheduler', `schedule-group/${name()}`);
      // Secrets Manager appends a hyphen and six random characters to the secret's name.
      case 'AWS::SecretsManager::Secret.Arn': return this.arn('secretsmanager', `secret:${name()}-${suffix(this.file + logicalId, 6)}`);
      case 'AWS::SSM::Parameter.Arn': {
        const parameter = name();
        return this.arn('ssm', `parameter${parameter.startsWith('/') ? '' : '/'}${parameter}`);
      }
      case 'AWS::KMS::Key.Arn': return this.arn('kms', `key/${uuid(`${this.file}/${logicalId}`)}`);
      case 'AWS::ECS::Cluster.Arn': return this.arn('ecs', `cluster/${name()}`);
      case 'AWS::ECS::Service.Arn':
      case 'AWS::ECS::Service.ServiceArn': {
        const cluster = resource.Properties?.Cluster ? this.resolveString(resource.Properties.Cluster, where) : 'default';
        const clusterName = cluster.startsWith('arn:') ? cluster.split('/').pop() : cluster;
        return this.arn('ecs', `service/${clusterName}/${name()}`);
      }
      case 'AWS::ECS::Service.Name': return name();
      case 'AWS::ECS::TaskDefinition.Arn':
      case 'AWS::ECS::TaskDefinition.TaskDefinitionArn': return this.arn('ecs', `task-definition/${name()}:1`);
      case 'AWS::StepFunctions::StateMachine.Arn': return this.arn('states', `stateMachine:${name()}`);
      case 'AWS::ElasticLoadBalancingV2::LoadBalancer.Arn': return this.arn('elasticloadbalancing', `loadbalancer/app/${name()}/${hexId(logicalId)}`);
      case 'AWS::ElasticLoadBalancingV2::LoadBalancer.LoadBalancerFullName': return `app/${name()}/${hexId(logicalId)}`;
      case 'AWS::ElasticLoadBalancingV2::TargetGroup.Arn': return this.arn('elasticloadbalancing', `targetgroup/${name()}/${hexId(logicalId)}`);
      case 'AWS::ElasticLoadBalancingV2::Listener.Arn': {
        const lb = this.resolveString(resource.Properties.LoadBalancerArn, where).split('loadbalancer/')[1];
        return this.arn('elasticloadbalancing', `listener/${lb}/${hexId(logicalId)}`);
      }
      case 'AWS::EC2::VPC.DefaultSecurityGroup':
      case 'AWS::EC2::SecurityGroup.GroupId': return `sg-${hexId(this.file + logicalId + attribute)}`;
    }
    throw new Error(`${where}: the audit cannot resolve Fn::GetAtt ${logicalId}.${attribute} (${type}) in ${this.file}; add it to TemplateResolver.getAtt`);
  }

  private resource(logicalId: string, where: string): any {
    const resource = this.template.Resources?.[logicalId];
    if (!resource) {
      throw new Error(`${where}: no resource or parameter ${logicalId} in ${this.file}`);
    }
    return resource;
  }

  private iamPath(resource: any, where: string): string {
    return resource.Properties?.Path ? this.resolveString(resource.Properties.Path, where) : '/';
  }

  /**
   * The resource's physical name: the name property when the template sets it, else one in the shape
   * CloudFormation generates (`<stack>-<logical ID>-<suffix>`, lower case where the service requires it).
   */
  nameOf(logicalId: string, where: string): string {
    const resource = this.resource(logicalId, where);
    const type: string = resource.Type;
    const rule = NAMES[type];
    if (!rule) {
      throw new Error(`${where}: the audit does not know the physical name of ${type} (${logicalId} in ${this.file}); add it to NAMES`);
    }
    const given = rule.property && resource.Properties?.[rule.property];
    if (given !== undefined) {
      return this.resolveString(given, where);
    }
    return rule.generate(this.context.stackName, logicalId, suffix(`${this.file}/${logicalId}`, 13));
  }
}

const NO_VALUE = Symbol('AWS::NoValue');

/** `<stack>-<logical ID>-<suffix>`, cut to `max` characters the way CloudFormation shortens it. */
function generated(max: number, lowerCase = false) {
  return (stackName: string, logicalId: string, random: string): string => {
    const room = max - random.length - 2;
    const stack = stackName.slice(0, Math.ceil(room / 2));
    const name = `${stack}-${logicalId.slice(0, room - stack.length)}-${random}`;
    return lowerCase ? name.toLowerCase() : name;
  };
}

/** Name property and generated-name shape of each resource type whose name a policy may hold. */
const NAMES: Record<string, { property?: string; generate: (stack: string, logicalId: string, random: string) => string }> = {
  'AWS::S3::Bucket': { property: 'BucketName', generate: generated(63, true) },
  'AWS::ECR::Repository': { property: 'RepositoryName', generate: generated(256, true) },
  'AWS::Logs::LogGroup': { property: 'LogGroupName', generate: generated(512) },
  'AWS::IAM::Role': { property: 'RoleName', generate: generated(64) },
  'AWS::IAM::ManagedPolicy': { property: 'ManagedPolicyName', generate: generated(128) },
  'AWS::IAM::OIDCProvider': { generate: () => { throw new Error('an OIDC provider has no name, only an ARN'); } },
  'AWS::Lambda::Function': { property: 'FunctionName', generate: generated(64) },
  'AWS::CodeBuild::Project': { property: 'Name', generate: (_s, logicalId, random) => `${logicalId}-${random}` },
  'AWS::CodePipeline::Pipeline': { property: 'Name', generate: generated(100) },
  'AWS::Events::Rule': { property: 'Name', generate: generated(64) },
  'AWS::SNS::Topic': { property: 'TopicName', generate: generated(256) },
  'AWS::SQS::Queue': { property: 'QueueName', generate: generated(80) },
  'AWS::Scheduler::ScheduleGroup': { property: 'Name', generate: generated(64) },
  // A secret without a name is named `<logical ID>-<suffix>`.
  'AWS::SecretsManager::Secret': { property: 'Name', generate: (_s, logicalId, random) => `${logicalId}-${random}` },
  // A parameter without a name is named `CFN-<logical ID>-<suffix>`.
  'AWS::SSM::Parameter': { property: 'Name', generate: (_s, logicalId, random) => `CFN-${logicalId}-${random}` },
  'AWS::ECS::Cluster': { property: 'ClusterName', generate: generated(255) },
  'AWS::ECS::Service': { property: 'ServiceName', generate: generated(255) },
  'AWS::ECS::TaskDefinition': { property: 'Family', generate: (stack, logicalId) => `${stack}${logicalId}` },
  'AWS::StepFunctions::StateMachine': { property: 'StateMachineName', generate: (_s, logicalId, random) => `${logicalId}-${random}` },
  'AWS::ElasticLoadBalancingV2::LoadBalancer': { property: 'Name', generate: generated(32) },
  'AWS::ElasticLoadBalancingV2::TargetGroup': { property: 'Name', generate: generated(32) },
};

function hexId(seed: string): string {
  return createHash('sha256').update(seed).digest('hex').slice(0, 17);
}

function uuid(seed: string): string {
  const h = createHash('sha256').update(seed).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-8${h.slice(17, 20)}-${h.slice(20, 32)}`;
}
