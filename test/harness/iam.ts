import { Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';

/** The statements of every policy attached to `role`, read from the template of the role's stack. */
export function statementsOf(role: iam.IRole): Array<Record<string, any>> {
  const stack = Stack.of(role);
  const roleRef = JSON.stringify(stack.resolve(role.roleName));
  return Object.values(Template.fromStack(stack).findResources('AWS::IAM::Policy'))
    .filter((p) => p.Properties.Roles.some((r: unknown) => JSON.stringify(r) === roleRef))
    .flatMap((p) => p.Properties.PolicyDocument.Statement);
}
