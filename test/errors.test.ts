import { App, Stack } from 'aws-cdk-lib';
import { EcsStagingEnvironment, StagingNetwork } from '../src';
import { pythonName, StagingValidationError, withPythonNames } from '../src/private/errors';

describe('StagingValidationError', () => {
  test('starts every message with the stable prefix and the construct path', () => {
    // GIVEN
    const stack = new Stack(new App(), 'Test');
    // WHEN
    const error = new StagingValidationError(stack, 'cidr must be an IPv4 CIDR block');
    // THEN
    expect(error.message).toBe('[cdk-ecs-staging] Test: cidr must be an IPv4 CIDR block');
  });

  test('reaches the user with the prefix from the constructs, e.g. maxAzs and the region', () => {
    // GIVEN
    const app = new App();
    const stack = new Stack(app, 'Test', { env: { region: 'us-east-1' } });
    const agnostic = new Stack(app, 'Agnostic');
    // THEN
    expect(() => new StagingNetwork(stack, 'Network', { maxAzs: 1 })).toThrow(/^\[cdk-ecs-staging\] Test\/Network: maxAzs .*\[Python: max_azs\]$/);
    expect(() => new EcsStagingEnvironment(agnostic, 'Staging')).toThrow(/^\[cdk-ecs-staging\] Agnostic\/Staging\/Edge: the stack has no region/);
    expect(() => new EcsStagingEnvironment(stack, 'Bad', { environmentName: 'Not Valid' })).toThrow(/^\[cdk-ecs-staging\] Test\/Bad: environmentName/);
  });
});

describe('withPythonNames', () => {
  test('gives the Python names of the props and methods a message names, not of quoted values', () => {
    expect(withPythonNames("desiredCount (5) must not exceed autoScaling.maxCapacity (4); got 'fooBar'"))
      .toBe("desiredCount (5) must not exceed autoScaling.maxCapacity (4); got 'fooBar' [Python: desired_count, auto_scaling.max_capacity]");
    expect(withPythonNames('use StagingSecret.fromSecretArn for an ARN')).toBe('use StagingSecret.fromSecretArn for an ARN [Python: StagingSecret.from_secret_arn]');
    expect(withPythonNames('vpc and cidr cannot be used together')).toBe('vpc and cidr cannot be used together');
  });

  test('takes an apostrophe inside a word for no quote, and joins no words around a quote', () => {
    // The time zone message: "aws-cdk-lib's" once opened a quote that closed at 'Area/City', and
    // "lib" and "Area" joined into a name, lib_area.
    const message = "schedule.timeZone 'Mars/Olympus_Mons' is not an IANA time zone; use one of aws-cdk-lib's TimeZone constants (e.g. TimeZone.EUROPE_BERLIN) or TimeZone.of('Area/City')";
    expect(withPythonNames(message)).toBe(`${message} [Python: schedule.time_zone]`);
    expect(withPythonNames("got 'a'desiredCount")).toBe("got 'a'desiredCount [Python: desired_count]");
  });

  test('converts names the way jsii does', () => {
    expect(pythonName('memoryLimitMiB')).toBe('memory_limit_mib');
    expect(pythonName('healthCheckGracePeriod')).toBe('health_check_grace_period');
    expect(pythonName('targetCpuPercent')).toBe('target_cpu_percent');
  });
});
