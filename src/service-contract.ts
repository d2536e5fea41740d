import * as ecr from 'aws-cdk-lib/aws-ecr';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as ssm from 'aws-cdk-lib/aws-ssm';

/**
 * A service of a staging environment, as the parts built around it see it: delivery
 * (`StagingPipeline`, `GitHubActionsDeployRole`) and alarms (`StagingServiceAlarms`, the
 * dashboard). `StagingService` implements it.
 */
export interface IStagingService {
  /** The service's name. */
  readonly serviceName: string;
  /** The name of the environment the service belongs to. */
  readonly environmentName: string;
  /** The ECR repository the pipeline pushes the app to. */
  readonly repository: ecr.IRepository;
  /** The log group of the container. */
  readonly logGroup: logs.LogGroup;
  /** Role the app assumes at run time. */
  readonly taskRole: iam.Role;
  /** Role ECS uses to pull the image and write logs. */
  readonly executionRole: iam.Role;
  /** The task definition. */
  readonly taskDefinition: ecs.FargateTaskDefinition;
  /** The app container. */
  readonly container: ecs.ContainerDefinition;
  /** The Fargate service. */
  readonly fargateService: ecs.FargateService;
  /** The target group the load balancer sends the service's traffic to. */
  readonly targetGroup: elbv2.ApplicationTargetGroup;
  /** The parameter that holds the image URI, when the service runs from its own repository. */
  readonly imageParameter?: ssm.StringParameter;
  /** The command that wakes the service outside its working hours, with a working-hours schedule. */
  readonly wakeCommand?: string;
}
