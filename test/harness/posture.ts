/**
 * Posture checks over a synthesized app: cdk-nag AwsSolutions and the Control Tower proactive
 * controls (cfn-guard), each honouring the acknowledgements made in the library with
 * `Validations.of(construct).acknowledge({ id, reason })`.
 *
 * How each runs on aws-cdk-lib 2.257.0:
 * - cdk-nag 3's plugin entry needs `appConstruct` on the validation context (2.258+), so the pack is
 *   run with `validateScope(app)`, which walks the construct tree and skips acknowledged rules.
 * - cfn-guard runs through its validation plugin over the synthesized template files. The CDK
 *   framework filters its findings by rule name across the whole app; here a finding is only
 *   dropped when the rule is acknowledged on the violating resource itself or an ancestor, so an
 *   acknowledgement never hides the same rule elsewhere.
 */
import * as fs from 'fs';
import * as path from 'path';
import { CfnGuardValidator } from '@cdklabs/cdk-validator-cfnguard';
import { App, CfnResource, Stack, Stage, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { IConstruct } from 'constructs';

/** One finding of a posture check that nothing acknowledged. */
export interface PostureFinding {
  readonly tool: 'cdk-nag' | 'cfn-guard';
  readonly rule: string;
  readonly resource: string;
  readonly message: string;
}

const GUARD = new CfnGuardValidator();
const GUARD_PREFIX = GUARD.name.replace(/ /g, '-');

/** Synthesizes `app` (if needed) and returns every unacknowledged posture finding. */
export function postureFindings(app: App): PostureFinding[] {
  const assembly = app.synth();
  // Nested stacks' templates sit beside their parents' in the assembly directory.
  const nested = fs.readdirSync(assembly.directory).filter((f) => f.endsWith('.nested.template.json')).map((f) => path.join(assembly.directory, f));
  return [...nagFindings(app), ...guardFindings(app, [...assembly.stacksRecursively.map((s) => s.templateFullPath), ...nested])];
}

/** Renders findings one per line, for test failure messages. */
export function formatFindings(findings: PostureFinding[]): string {
  return findings.map((f) => `${f.tool} ${f.rule} @ ${f.resource}: ${f.message}`).join('\n');
}

function nagFindings(app: App): PostureFinding[] {
  const report = new AwsSolutionsChecks().validateScope(app);
  return report.violations.flatMap((v) =>
    v.violatingResources.map((r) => ({
      tool: 'cdk-nag' as const,
      rule: v.ruleName,
      resource: r.constructPath ?? r.resourceLogicalId ?? '?',
      message: v.description,
    })),
  );
}

function guardFindings(app: App, templatePaths: string[]): PostureFinding[] {
  const report = GUARD.validate({ templatePaths });
  const resources = resourcesByTemplate(app);
  const findings: PostureFinding[] = [];
  for (const v of report.violations) {
    for (const r of v.violatingResources) {
      const construct = resources.get(path.resolve(r.templatePath))?.get(r.resourceLogicalId);
      if (construct && isAcknowledged(construct, `${GUARD_PREFIX}::${v.ruleName.replace(/ /g, '-')}`)) {
        continue;
      }
      findings.push({
        tool: 'cfn-guard',
        rule: v.ruleName,
        resource: construct?.node.path ?? r.resourceLogicalId,
        message: v.description,
      });
    }
  }
  return findings;
}

/** template path -> logical ID -> CfnResource */
function resourcesByTemplate(app: App): Map<string, Map<string, CfnResource>> {
  const result = new Map<string, Map<string, CfnResource>>();
  for (const construct of app.node.findAll()) {
    if (!CfnResource.isCfnResource(construct)) {
      continue;
    }
    const stack = Stack.of(construct);
    const templatePath = path.resolve(Stage.of(stack)!.outdir, stack.templateFile);
    if (!result.has(templatePath)) {
      result.set(templatePath, new Map());
    }
    result.get(templatePath)!.set(stack.resolve(construct.logicalId), construct);
  }
  return result;
}

function isAcknowledged(construct: IConstruct, qualifiedId: string): boolean {
  for (let current: IConstruct | undefined = construct; current; current = current.node.scope) {
    for (const entry of current.node.metadata) {
      if (entry.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY && entry.data && qualifiedId in entry.data) {
        return true;
      }
    }
  }
  return false;
}
