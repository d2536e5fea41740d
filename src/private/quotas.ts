import { CfnElement, CfnOutput, CfnParameter, CfnResource, Stack } from 'aws-cdk-lib';
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

/** Returns one message per quota that a template holding part of `scope` exceeds. */
export function checkTemplateQuotas(scope: IConstruct): string[] {
  const counts = new Map<Stack, { resources: number; outputs: number; parameters: number }>();
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
  }
  const messages: string[] = [];
  for (const [stack, count] of counts) {
    for (const quota of Object.keys(TEMPLATE_QUOTAS) as Array<keyof typeof TEMPLATE_QUOTAS>) {
      if (count[quota] > TEMPLATE_QUOTAS[quota]) {
        messages.push(`${ERROR_PREFIX}stack ${stack.node.path} holds ${count[quota]} ${quota} of this environment, over CloudFormation's ${TEMPLATE_QUOTAS[quota]} per template; `
          + (quota === 'outputs' ? 'set emitOutputs (emit_outputs) to false, or ' : '') + 'move the environment into a stack of its own, or split its services over several environments');
      }
    }
  }
  return messages;
}
