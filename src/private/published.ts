import { Lazy, Stack } from 'aws-cdk-lib';
import * as ssm from 'aws-cdk-lib/aws-ssm';
import { Construct, IConstruct } from 'constructs';
import { EnvironmentKey, PUBLISHED_SCHEMA_VERSION, ServiceManifest, environmentParameterName, serviceManifestParameterName } from './published-names';

/**
 * What an environment publishes about itself, so that tools outside the CDK app (`cdk-ecs-staging
 * validate`) and stacks deployed beside it (previews) find it by its name and region alone: SSM
 * String parameters under `/<environmentName>/`, created and deleted with the environment's stack.
 *
 * The environment's own values live under `/<environmentName>/_environment/`: a service name starts
 * with a letter (validateServiceName), so no service's parameters (`/<environmentName>/<service>/...`)
 * can land there. A service's published facts are `/<environmentName>/<service>/service-manifest`: a
 * config key is an environment variable name (no hyphen), so no config parameter can take that name.
 *
 * Standard parameters: no charge, 4 KB a value, 10,000 a Region
 * (https://docs.aws.amazon.com/systems-manager/latest/userguide/parameter-store-advanced-parameters.html).
 */
export { PUBLISHED_SCHEMA_VERSION, ENVIRONMENT_SEGMENT, environmentParameterName, serviceManifestParameterName } from './published-names';
export type { EnvironmentKey, ServiceManifest } from './published-names';

/** The environment's values, as the environment has them (tokens allowed). */
export interface EnvironmentPublication {
  readonly environmentName: string;
  readonly clusterName: string;
  readonly vpcId: string;
  readonly serviceSubnetIds: string[];
  readonly assignPublicIp: boolean;
  readonly listenerArn: string;
  readonly servicesSecurityGroupId: string;
  readonly loadBalancerArn: string;
  readonly alarmTopicArn: string;
  /** The names of the services, read when the template is rendered (services are added later). */
  readonly serviceNames: () => string[];
  /** Static facts for `validate`, read when the template is rendered; serialized as JSON. */
  readonly manifest: () => { [key: string]: unknown };
}

/**
 * Writes the environment's published values. CloudFormation creates parameters of one template in
 * parallel, and Parameter Store throttles PutParameter ("Rate exceeded"): each parameter waits for
 * the one before it, so the environment's few parameters never race each other.
 */
export function publishEnvironment(scope: Construct, values: EnvironmentPublication): Construct[] {
  const name = values.environmentName;
  const strings: Array<[EnvironmentKey, string, string]> = [
    ['stack-name', Stack.of(scope).stackName, 'The name of the stack'],
    ['cluster-name', values.clusterName, 'The ECS cluster name'],
    ['vpc-id', values.vpcId, 'The VPC ID'],
    ['assign-public-ip', values.assignPublicIp ? 'ENABLED' : 'DISABLED', 'Whether tasks get a public IP (AssignPublicIp)'],
    ['listener-arn', values.listenerArn, 'The listener the services attach to'],
    ['services-security-group-id', values.servicesSecurityGroupId, 'The security group every task joins'],
    ['load-balancer-arn', values.loadBalancerArn, 'The load balancer ARN'],
    ['alarm-topic-arn', values.alarmTopicArn, 'The alarm topic ARN'],
    ['manifest', Lazy.string({ produce: () => JSON.stringify({ schema: PUBLISHED_SCHEMA_VERSION, ...values.manifest() }) }), 'The environment\'s facts (JSON)'],
  ];
  const parameters: Construct[] = strings.map(([key, value, what]) => new ssm.StringParameter(scope, key, {
    parameterName: environmentParameterName(name, key),
    stringValue: value,
    description: `${what}: published for validate and previews (cdk-ecs-staging environment ${name})`,
  }));
  const lists: Array<[EnvironmentKey, () => string[], string]> = [
    ['service-subnet-ids', () => values.serviceSubnetIds, 'The subnets of the tasks'],
    ['services', () => [...values.serviceNames()].sort(), 'The names of the services'],
  ];
  for (const [key, produce, what] of lists) {
    // A StringList parameter may not be empty: an environment without services publishes '-'.
    parameters.push(new ssm.StringListParameter(scope, key, {
      parameterName: environmentParameterName(name, key),
      stringListValue: Lazy.list({ produce: () => (produce().length === 0 ? ['-'] : produce()) }),
      description: `${what}: published for validate and previews (cdk-ecs-staging environment ${name})`,
    }));
  }
  chain(parameters);
  return parameters;
}

/**
 * Writes a service's facts as JSON to `/<environmentName>/<service>/service-manifest`, in the scope
 * given (the service's own stack, beside the resources it names).
 */
export function publishServiceManifest(scope: Construct, environmentName: string, manifest: ServiceManifest): ssm.StringParameter {
  return new ssm.StringParameter(scope, 'ServiceManifest', {
    parameterName: serviceManifestParameterName(environmentName, manifest.serviceName),
    stringValue: Stack.of(scope).toJsonString({ schema: PUBLISHED_SCHEMA_VERSION, ...manifest }),
    description: `The facts of service '${manifest.serviceName}' (JSON): published for validate (cdk-ecs-staging environment ${environmentName})`,
  });
}

/** Each construct depends on the one before it: CloudFormation creates them one at a time. */
function chain(constructs: IConstruct[]): void {
  constructs.slice(1).forEach((c, i) => c.node.addDependency(constructs[i]));
}
