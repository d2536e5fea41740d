import { CfnElement, CfnOutput, CfnParameter, CfnResource, Stack, Token } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import { IConstruct } from 'constructs';
import { ERROR_PREFIX } from './errors';

/**
 * CloudFormation's per-template quotas
 * (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/cloudformation-limits.html),
 * checked at synth over every template that holds part of an environment, so that a growing
 * environment fails with a clear message instead of half-way through a deploy.
 */
const TEMPLATE_QUOTAS = {
  resources: 500,
  outputs: 200,
  parameters: 200,
} as const;

/**
 * Bytes of a template that CloudFormation reads from S3, where AWS CDK uploads every template
 * ("Template body size in an Amazon S3 object: 1 MB", CloudFormation quotas:
 * https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/cloudformation-limits.html).
 * Counted as AWS CDK counts it (1,000,000, the figure of its own `@aws-cdk/core:Stack.templateSize`
 * warning), on the template as AWS CDK writes it.
 */
export const TEMPLATE_BYTES = 1_000_000;

/**
 * Widgets a CloudWatch dashboard holds ("Up to 500 widgets per dashboard", CloudWatch service quotas:
 * https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/cloudwatch_limits.html).
 */
export const DASHBOARD_WIDGETS = 500;

/** Returns one message per quota that a template or a dashboard holding part of `scope` exceeds. */
export function checkTemplateQuotas(scope: IConstruct): string[] {
  const counts = new Map<Stack, { resources: number; outputs: number; parameters: number }>();
  const messages: string[] = [];
  for (const construct of scope.node.findAll()) {
    if (!CfnElement.isCfnElement(construct)) {
      continue;
    }
    const stack = Stack.of(construct);
    const count = counts.get(stack) ?? { resources: 0, outputs: 0, parameters: 0 };
    if (CfnResource.isCfnResource(construct)) count.resources++;
    else if (construct instanceof CfnOutput) count.outputs++;
    else if (construct instanceof CfnParameter) count.parameters++;
    counts.set(stack, count);
    if (construct instanceof cloudwatch.CfnDashboard) {
      const widgets = countWidgets(stack, construct);
      if (widgets !== undefined && widgets > DASHBOARD_WIDGETS) {
        messages.push(`${ERROR_PREFIX}dashboard ${construct.node.path} holds ${widgets} widgets, over CloudWatch's ${DASHBOARD_WIDGETS} per dashboard; `
          + 'the environment starts a new dashboard before its own would pass the quota, so put widgets of your own on a dashboard of your own');
      }
    }
  }
  for (const [stack, count] of counts) {
    for (const quota of Object.keys(TEMPLATE_QUOTAS) as Array<keyof typeof TEMPLATE_QUOTAS>) {
      if (count[quota] > TEMPLATE_QUOTAS[quota]) {
        messages.push(`${ERROR_PREFIX}stack ${stack.node.path} holds ${count[quota]} ${quota} of this environment, over CloudFormation's ${TEMPLATE_QUOTAS[quota]} per template; `
          + (quota === 'outputs' ? 'set emitOutputs (emit_outputs) to false, or ' : '') + 'move the environment into a stack of its own, or split its services over several environments');
      }
    }
    const bytes = templateBytes(stack);
    if (bytes !== undefined && bytes > TEMPLATE_BYTES) {
      messages.push(`${ERROR_PREFIX}stack ${stack.node.path} has a template of ${bytes} bytes, over CloudFormation's ${TEMPLATE_BYTES} per template; `
        + 'move the environment into a stack of its own, set suppressTemplateIndentation on the stack, or split its services over several environments');
    }
  }
  return messages;
}

/**
 * Bytes of the stack's template as AWS CDK will write it (indented by one space unless the stack
 * suppresses indentation). Read from the stack's own rendering, which AWS CDK keeps internal;
 * `undefined` if a release of AWS CDK no longer offers it, so that the check never breaks a synth.
 */
export function templateBytes(stack: Stack): number | undefined {
  const internals = stack as unknown as { _toCloudFormation?: () => unknown; _suppressTemplateIndentation?: boolean };
  if (typeof internals._toCloudFormation !== 'function') {
    return undefined;
  }
  const indent = internals._suppressTemplateIndentation ? undefined : 1;
  return Buffer.byteLength(JSON.stringify(internals._toCloudFormation(), undefined, indent));
}

/** Widgets in a dashboard's body, or `undefined` if the body cannot be read at synth. */
export function countWidgets(stack: Stack, dashboard: cloudwatch.CfnDashboard): number | undefined {
  const body = stack.resolve(dashboard.dashboardBody);
  // A body with deploy-time values resolves to { 'Fn::Join': ['', [...]] }; each value sits inside
  // a JSON string, so a placeholder keeps the JSON readable.
  const text = typeof body === 'string' ? body
    : Array.isArray(body?.['Fn::Join']?.[1]) ? body['Fn::Join'][1].map((part: unknown) => (typeof part === 'string' ? part : 'x')).join('')
      : undefined;
  if (text === undefined || Token.isUnresolved(text)) {
    return undefined;
  }
  try {
    const widgets = JSON.parse(text).widgets;
    return Array.isArray(widgets) ? widgets.length : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Target groups per Application Load Balancer and rules per load balancer (default rules aside):
 * 100 each ("Target groups per Application Load Balancer: 100", "Rules per Application Load
 * Balancer (not including default rules): 100", Elastic Load Balancing quotas:
 * https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-limits.html).
 * AWS does not raise the target groups one.
 */
export const LOAD_BALANCER_TARGET_GROUPS = 100;
export const LOAD_BALANCER_RULES = 100;

/**
 * Checks that the services and the most previews at once fit one load balancer: each service has
 * one target group and one rule, and so has each previewed service of each preview.
 */
export function checkPreviewQuotas(services: number, previewable: number, maxPreviews: number): string[] {
  const total = services + maxPreviews * previewable;
  const limit = Math.min(LOAD_BALANCER_TARGET_GROUPS, LOAD_BALANCER_RULES);
  if (total <= limit) {
    return [];
  }
  const fitting = previewable === 0 ? 0 : Math.floor((limit - services) / previewable);
  return [`${ERROR_PREFIX}previews.maxPreviews (${maxPreviews}) previews of ${previewable} services, beside the ${services} services, would need ${total} target groups and listener rules `
    + `on one load balancer (got ${services} + ${maxPreviews} x ${previewable}), over the ${limit} an Application Load Balancer holds (AWS does not raise the target groups quota); `
    + (fitting >= 1 ? `lower previews.maxPreviews to ${fitting}, or ` : '') + 'name fewer previews.services [Python: previews.max_previews, previews.services]'];
}
