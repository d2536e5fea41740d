/**
 * Finds an environment by its name and region alone: what it publishes under
 * `/<environmentName>/_environment/` (src/private/published.ts), its stack, and each service's
 * manifest at `/<environmentName>/<service>/service-manifest`.
 */
import { DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { GetParametersByPathCommand, GetParametersCommand, Parameter } from '@aws-sdk/client-ssm';
import { AwsClients, cannotRunReason, errorMessage } from './aws';
import {
  ENVIRONMENT_SEGMENT, EnvironmentKey, PUBLISHED_SCHEMA_VERSION, ServiceManifest, environmentParameterName, serviceManifestParameterName,
} from '../private/published-names';

/** validate could not run: one line for the person, exit code 2. */
export class CannotRun extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CannotRun';
  }
}

/** The environment's static facts (`/<env>/_environment/manifest`). */
export interface EnvironmentManifest {
  readonly schema: number;
  readonly environmentName: string;
  readonly domainName: string | null;
  readonly natStrategy: string | null;
  readonly natGateways: number;
  readonly vpcImported: boolean;
  readonly ephemeral: boolean;
}

/** A service, by its manifest; `manifest` is undefined when the service published none. */
export interface DiscoveredService {
  readonly name: string;
  readonly manifestParameter: string;
  readonly manifest?: ServiceManifest;
}

/** What validate knows of the environment before it checks anything. */
export interface DiscoveredEnvironment {
  readonly name: string;
  readonly region: string;
  readonly values: { readonly [key in EnvironmentKey]?: string };
  readonly manifest: EnvironmentManifest;
  readonly stackName: string;
  readonly stackStatus: string;
  readonly services: DiscoveredService[];
}

/** The schema versions of the published facts this release reads. */
const KNOWN_SCHEMAS = [PUBLISHED_SCHEMA_VERSION];

/** Finds the environment, or throws CannotRun with the one line that says why not. */
export async function discover(aws: AwsClients, name: string, region: string, version: string, profile?: string): Promise<DiscoveredEnvironment> {
  const prefix = `/${name}/${ENVIRONMENT_SEGMENT}/`;
  const parameters = await call(profile, () => allParametersByPath(aws, prefix));
  if (parameters.length === 0) {
    throw new CannotRun(`no environment '${name}' in ${region}: no parameters under ${prefix} (deployed with cdk-ecs-staging >= ${version}? check the name and --region)`);
  }
  const values: { [key: string]: string } = {};
  for (const p of parameters) {
    values[p.Name!.slice(prefix.length)] = p.Value ?? '';
  }
  const manifest = parseManifest(values.manifest, environmentParameterName(name, 'manifest'));
  const stackName = values['stack-name'];
  if (!stackName) {
    throw new CannotRun(`${environmentParameterName(name, 'stack-name')} is missing: '${name}' is not an environment of cdk-ecs-staging, or only partly deployed (redeploy it)`);
  }
  const stackStatus = await stackStatusOf(aws, stackName, name, profile);
  if (!/_COMPLETE$/.test(stackStatus) || stackStatus === 'ROLLBACK_COMPLETE' || stackStatus.startsWith('DELETE_')) {
    throw new CannotRun(`stack ${stackName} of environment '${name}' is ${stackStatus}: validate reads a deployed environment; `
      + `wait for the stack to settle, or see why in the CloudFormation console (aws cloudformation describe-stack-events --stack-name ${stackName} --region ${region})`);
  }
  const serviceNames = (values.services ?? '').split(',').filter((s) => s !== '' && s !== '-');
  const services = await call(profile, () => serviceManifests(aws, name, serviceNames));
  return { name, region, values, manifest, stackName, stackStatus, services };
}

/** Runs an AWS call; an error about credentials, access or the network becomes CannotRun. */
export async function call<T>(profile: string | undefined, f: () => Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (error) {
    const reason = cannotRunReason(error, profile);
    if (reason) {
      throw new CannotRun(reason);
    }
    throw error;
  }
}

async function allParametersByPath(aws: AwsClients, path: string): Promise<Parameter[]> {
  const found: Parameter[] = [];
  let token: string | undefined;
  do {
    const page = await aws.ssm.send(new GetParametersByPathCommand({ Path: path, Recursive: false, NextToken: token }));
    found.push(...page.Parameters ?? []);
    token = page.NextToken;
  } while (token);
  return found;
}

function parseManifest(text: string | undefined, parameterName: string): EnvironmentManifest {
  let manifest: any;
  try {
    manifest = text === undefined ? undefined : JSON.parse(text);
  } catch {
    manifest = undefined;
  }
  if (typeof manifest !== 'object' || manifest === null || typeof manifest.schema !== 'number') {
    throw new CannotRun(`${parameterName} holds no cdk-ecs-staging manifest: this is not an environment of cdk-ecs-staging`);
  }
  if (!KNOWN_SCHEMAS.includes(manifest.schema)) {
    throw new CannotRun(`${parameterName} has schema ${manifest.schema}, which this release of cdk-ecs-staging does not read (it reads ${KNOWN_SCHEMAS.join(', ')}): run the release the environment was deployed with`);
  }
  return manifest as EnvironmentManifest;
}

async function stackStatusOf(aws: AwsClients, stackName: string, name: string, profile?: string): Promise<string> {
  try {
    const stacks = await aws.cloudformation.send(new DescribeStacksCommand({ StackName: stackName }));
    return stacks.Stacks?.[0]?.StackStatus ?? 'UNKNOWN';
  } catch (error) {
    const reason = cannotRunReason(error, profile);
    if (reason) throw new CannotRun(reason);
    if (/does not exist/.test(errorMessage(error))) {
      throw new CannotRun(`stack ${stackName}, named by ${environmentParameterName(name, 'stack-name')}, does not exist: the environment was deleted and its parameters left behind, or they were written by hand`);
    }
    throw error;
  }
}

/** GetParameters takes 10 names a call. */
const GET_PARAMETERS_BATCH = 10;

async function serviceManifests(aws: AwsClients, name: string, serviceNames: string[]): Promise<DiscoveredService[]> {
  const parameterNames = serviceNames.map((s) => serviceManifestParameterName(name, s));
  const found = new Map<string, string>();
  const batches = [];
  for (let i = 0; i < parameterNames.length; i += GET_PARAMETERS_BATCH) {
    batches.push(parameterNames.slice(i, i + GET_PARAMETERS_BATCH));
  }
  await Promise.all(batches.map(async (names) => {
    const page = await aws.ssm.send(new GetParametersCommand({ Names: names }));
    for (const p of page.Parameters ?? []) found.set(p.Name!, p.Value ?? '');
  }));
  return serviceNames.map((service, i) => {
    const text = found.get(parameterNames[i]);
    let manifest: ServiceManifest | undefined;
    try {
      const parsed = text === undefined ? undefined : JSON.parse(text);
      manifest = parsed && KNOWN_SCHEMAS.includes(parsed.schema) ? parsed : undefined;
    } catch {
      manifest = undefined;
    }
    return { name: service, manifestParameter: parameterNames[i], manifest };
  });
}
