/**
 * A small model of what CloudFormation, ECS and the library's delivery scripts do to a service's
 * running image, driven by the service's synthesized template. Each rule names its AWS source.
 * It models one service: its image-uri parameter, its task definition and the ECS service.
 */

/** The template of the service's stack, as CloudFormation receives it. */
export type ServiceTemplate = { Resources: Record<string, { Type: string; Properties?: any }> };

interface Revision {
  readonly arn: string;
  readonly image: string;
  /** Whether its tasks pass the health checks (a scenario decides). */
  readonly healthy: boolean;
  status: 'ACTIVE' | 'INACTIVE';
}

interface Deployment {
  readonly arn: string;
  rolloutState: 'IN_PROGRESS' | 'COMPLETED' | 'FAILED';
}

/** What a scenario step left behind. */
export interface Outcome {
  /** The stack's status after a CloudFormation step. */
  readonly stackStatus?: 'CREATE_COMPLETE' | 'UPDATE_COMPLETE' | 'UPDATE_ROLLBACK_COMPLETE' | 'UPDATE_ROLLBACK_FAILED';
  /** Whether a delivery succeeded. */
  readonly delivered?: boolean;
}

const FAMILY = 'family';

export class DeployModel {
  private readonly revisions: Revision[] = [];
  private readonly deployments: Deployment[] = [];
  private readonly parameters = new Map<string, string>();
  private template?: ServiceTemplate;
  /** Physical ID (ARN) of the task definition resource CloudFormation manages. */
  private taskDefinitionArn?: string;

  /** The image of the service's tasks once its deployments have settled. */
  public get runningImage(): string {
    return this.revision(this.primary().arn).image;
  }

  /** The value of the image-uri parameter. */
  public get imageParameter(): string {
    return [...this.parameters.values()][0];
  }

  // ---- CloudFormation ----------------------------------------------------------------------------

  /** Creates the stack (C1). */
  public create(template: ServiceTemplate): Outcome {
    const { parameter } = parts(template);
    // C1: on create, CloudFormation creates the parameter with its Value, then (DependsOn) the task
    // definition, resolving its dynamic reference to the parameter at that moment
    // (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/dynamic-references-ssm.html).
    if (parameter) this.parameters.set(parameter.Properties.Name, parameter.Properties.Value);
    this.taskDefinitionArn = this.register(this.imageOf(template), true);
    this.updateService(this.serviceTaskDefinition(template), false);
    this.template = template;
    return { stackStatus: 'CREATE_COMPLETE' };
  }

  /**
   * Updates the stack to `template`. `newRevisionHealthy` says whether a revision this update
   * registers would pass its health checks.
   */
  public update(template: ServiceTemplate, newRevisionHealthy = true): Outcome {
    const previous = this.template!;
    const previousArn = this.taskDefinitionArn!;
    const before = parts(previous);
    const after = parts(template);
    // C2: every property of AWS::ECS::TaskDefinition requires replacement: a changed task definition is
    // a new revision, registered (with its dynamic reference resolved anew) before the resources that
    // depend on it are updated (https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-ecs-taskdefinition.html,
    // https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/using-cfn-updating-stacks-update-behaviors.html).
    const replaced = canonical(before.taskDefinition.Properties) !== canonical(after.taskDefinition.Properties);
    if (replaced) {
      this.taskDefinitionArn = this.register(this.imageOf(template), newRevisionHealthy);
    }
    // C3: the service is updated when its properties, with references resolved, differ; the update
    // sends every property of the template, its task definition included, not only the changed ones
    // (https://github.com/aws-cloudformation/cloudformation-coverage-roadmap/issues/1529).
    const serviceChanged = (replaced && mentions(after.service, after.taskDefinitionId))
      || canonical(before.service.Properties) !== canonical(after.service.Properties);
    let failed = false;
    if (serviceChanged) {
      failed = !this.updateService(this.serviceTaskDefinition(template), nonceChanged(before.service, after.service, replaced));
    }
    if (!failed) {
      // C5: a replaced resource is deleted in the cleanup after a successful update: the previous
      // revision is deregistered (UPDATE_COMPLETE_CLEANUP_IN_PROGRESS, same page as C2).
      if (replaced) this.revision(previousArn).status = 'INACTIVE';
      this.template = template;
      return { stackStatus: 'UPDATE_COMPLETE' };
    }
    // C4: a failed update rolls back: CloudFormation updates the service again with the previous
    // template's properties, and deletes what the update created only after that
    // (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/using-cfn-updating-stacks-monitor-stack.html).
    this.taskDefinitionArn = previousArn;
    const rolledBack = this.updateService(this.serviceTaskDefinition(previous), nonceChanged(after.service, before.service, replaced));
    if (replaced) this.revisions[this.revisions.length - 1].status = 'INACTIVE';
    // E5: a rollback whose service update fails leaves the stack in UPDATE_ROLLBACK_FAILED.
    return { stackStatus: rolledBack ? 'UPDATE_ROLLBACK_COMPLETE' : 'UPDATE_ROLLBACK_FAILED' };
  }

  // ---- The library's delivery (both paths) -------------------------------------------------------

  /**
   * A delivery of `image` as the library's scripts do it: a revision made from the service's current
   * one with the new image, the service updated to it, the deployment of that revision awaited, and
   * the image-uri parameter written only once the deployment COMPLETED.
   */
  public deliver(image: string, healthy = true): Outcome {
    // The new revision copies the service's current one but for the image; in this model only the image differs.
    const arn = this.register(image, healthy);
    const ok = this.updateService(arn, false);
    if (ok) this.parameters.set([...this.parameters.keys()][0], image);
    return { delivered: ok };
  }

  // ---- ECS -------------------------------------------------------------------------------------

  /** E1: RegisterTaskDefinition adds the family's next revision, ACTIVE (ECS API reference, RegisterTaskDefinition). */
  private register(image: string, healthy: boolean): string {
    const arn = `arn:aws:ecs:us-east-1:123456789012:task-definition/${FAMILY}:${this.revisions.length + 1}`;
    this.revisions.push({ arn, image, healthy, status: 'ACTIVE' });
    return arn;
  }

  /**
   * UpdateService. E2: a family without a revision means its latest ACTIVE revision ("If a revision
   * isn't specified, the latest ACTIVE revision is used", ECS API reference, UpdateService
   * taskDefinition: https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_UpdateService.html).
   * E3: a task definition other than the primary deployment's, or forceNewDeployment, starts a new
   * deployment (same page). E4: with the deployment circuit breaker and rollback, a deployment whose
   * tasks fail is FAILED and the service goes back to the last deployment that COMPLETED
   * (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/deployment-circuit-breaker.html).
   * Returns whether the deployment (if any) completed.
   */
  private updateService(taskDefinition: string, forceNewDeployment: boolean): boolean {
    const target = taskDefinition.includes(':task-definition/') ? this.revision(taskDefinition)
      : this.revisions.filter((r) => r.status === 'ACTIVE').slice(-1)[0];
    if (this.deployments.length > 0 && target.arn === this.primary().arn && !forceNewDeployment) {
      return true;
    }
    if (target.healthy) {
      this.deployments.push({ arn: target.arn, rolloutState: 'COMPLETED' });
      return true;
    }
    this.deployments.push({ arn: target.arn, rolloutState: 'FAILED' });
    const lastCompleted = this.deployments.filter((d) => d.rolloutState === 'COMPLETED').slice(-1)[0];
    if (lastCompleted) this.deployments.push({ arn: lastCompleted.arn, rolloutState: 'COMPLETED' });
    return false;
  }

  private primary(): Deployment {
    return this.deployments[this.deployments.length - 1];
  }

  private revision(arn: string): Revision {
    const found = this.revisions.find((r) => r.arn === arn);
    if (!found) throw new Error(`no revision ${arn}`);
    return found;
  }

  // ---- Reading the template ----------------------------------------------------------------------

  /** The task definition the service's template names: the managed revision's ARN (a Ref), or the family. */
  private serviceTaskDefinition(template: ServiceTemplate): string {
    const { service } = parts(template);
    return refersToTaskDefinition(service) ? this.taskDefinitionArn! : FAMILY;
  }

  /** The app container's image: a literal, or the dynamic reference to the image-uri parameter, resolved now. */
  private imageOf(template: ServiceTemplate): string {
    const { taskDefinition, parameter, parameterId } = parts(template);
    const image = taskDefinition.Properties.ContainerDefinitions.find((c: any) => c.Name === 'app').Image;
    if (typeof image === 'string') return image;
    const joined = image['Fn::Join'][1];
    if (joined[0] !== '{{resolve:ssm:' || joined[1].Ref !== parameterId || !parameter) {
      throw new Error(`unexpected image ${JSON.stringify(image)}`);
    }
    return this.parameters.get(parameter.Properties.Name)!;
  }
}

function parts(template: ServiceTemplate) {
  const of = (type: string) => Object.entries(template.Resources).filter(([, r]) => r.Type === type);
  const [[, service]] = of('AWS::ECS::Service');
  const [[taskDefinitionId, taskDefinition]] = of('AWS::ECS::TaskDefinition');
  const parameters = of('AWS::SSM::Parameter').filter(([, r]) => String(r.Properties.Name).endsWith('/image-uri'));
  const [parameterId, parameter] = parameters[0] ?? [undefined, undefined];
  return { service, taskDefinition, taskDefinitionId, parameter, parameterId };
}

/** Whether the service's properties refer to the task definition resource (its TaskDefinition, or a nonce). */
function mentions(service: { Properties?: any }, taskDefinitionId: string): boolean {
  return JSON.stringify(service.Properties).includes(JSON.stringify({ Ref: taskDefinitionId }));
}

function refersToTaskDefinition(service: { Properties?: any }): boolean {
  return typeof service.Properties.TaskDefinition === 'object' && 'Ref' in service.Properties.TaskDefinition;
}

/** Whether ForceNewDeploymentNonce takes a new value: a literal that changed, or a Ref to a replaced task definition. */
function nonceChanged(from: { Properties?: any }, to: { Properties?: any }, replaced: boolean): boolean {
  const nonce = (s: { Properties?: any }) => s.Properties.ForceNewDeployment?.ForceNewDeploymentNonce;
  if (nonce(to) === undefined) return false;
  if (typeof nonce(to) === 'object' && 'Ref' in nonce(to)) return replaced;
  return canonical(nonce(from)) !== canonical(nonce(to));
}

function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value && typeof value === 'object') {
    return `{${Object.keys(value).sort().map((k) => `${JSON.stringify(k)}:${canonical((value as any)[k])}`).join(',')}}`;
  }
  return JSON.stringify(value);
}
