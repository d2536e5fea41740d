import { App, NestedStack, Stack, Validations } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as logs from 'aws-cdk-lib/aws-logs';
import { formatFindings, postureFindings } from './harness/posture';

/**
 * The posture helper itself: it must find what is wrong, and honour an acknowledgement only on
 * the resource that carries it.
 */
describe('postureFindings', () => {
  let findings: ReturnType<typeof postureFindings>;
  beforeAll(() => {
    // GIVEN: a deliberately non-compliant VPC (no flow logs) and a log group that never expires
    const app = new App();
    const stack = new Stack(app, 'NonCompliant');
    new ec2.Vpc(stack, 'Vpc', { maxAzs: 2, natGateways: 0, subnetConfiguration: [{ name: 'Public', subnetType: ec2.SubnetType.PUBLIC }] });
    new logs.LogGroup(stack, 'Forever', { retention: logs.RetentionDays.INFINITE });
    new logs.LogGroup(new NestedStack(stack, 'Nested'), 'NestedForever', { retention: logs.RetentionDays.INFINITE });
    const acknowledged = new logs.LogGroup(stack, 'Acknowledged', { retention: logs.RetentionDays.ONE_DAY });
    Validations.of(acknowledged).acknowledge(
      { id: 'cdk-validator-cfnguard::cloudwatch_log_group_encrypted_check', reason: 'test: acknowledged here only' },
      { id: 'cdk-validator-cfnguard::cloudwatch_log_group_retention_period_check', reason: 'test: acknowledged here only' },
    );
    // WHEN
    findings = postureFindings(app);
  });

  test('reports a cdk-nag AwsSolutions finding', () => {
    expect(findings).toContainEqual(expect.objectContaining({ tool: 'cdk-nag', rule: 'AwsSolutions-VPC7', resource: 'NonCompliant/Vpc/Resource' }));
  });

  test('reports a Control Tower finding with its construct path', () => {
    expect(findings).toContainEqual(expect.objectContaining({
      tool: 'cfn-guard',
      rule: 'cloudwatch_log_group_encrypted_check',
      resource: 'NonCompliant/Forever/Resource',
    }));
    expect(findings).toContainEqual(expect.objectContaining({ tool: 'cfn-guard', rule: 'subnet_auto_assign_public_ip_disabled_check' }));
  });

  test('honours an acknowledgement only on the resource that carries it', () => {
    const onAcknowledged = findings.filter((f) => f.resource.startsWith('NonCompliant/Acknowledged'));
    expect(onAcknowledged).toEqual([]);
    expect(findings.filter((f) => f.rule === 'cloudwatch_log_group_encrypted_check').map((f) => f.resource).sort())
      .toEqual(['NonCompliant/Forever/Resource', 'NonCompliant/Nested/NestedForever/Resource']);
  });

  test('formats every finding on its own line', () => {
    const lines = formatFindings(findings).split('\n');
    expect(lines).toHaveLength(findings.length);
    expect(lines[0]).toMatch(/^(cdk-nag|cfn-guard) \S+ @ NonCompliant\/\S+: .+/);
  });
});
