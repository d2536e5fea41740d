import { App, Aws, Stack, Token } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as acm from 'aws-cdk-lib/aws-certificatemanager';
import { Construct } from 'constructs';
import { EcsStagingEnvironment, EcsStagingEnvironmentProps } from '../src';
import { TEST_ENV, testApp, testZone } from './harness/apps';
import {
  propName, validateDnsName, validateHostHeader, validateParameterName, validatePathPattern, validateRoleName, validateTag,
} from '../src/private/validation';

/**
 * The names the library sends to AWS (ALB conditions, DNS, SSM, IAM, tags) are checked at synth
 * against each service's own rules; each rule is exercised here with a bad value, through the
 * public API where a prop reaches it and on the helper where the library builds the name itself.
 */

function environment(props: EcsStagingEnvironmentProps = {}) {
  const stack = new Stack(testApp(), 'Test', { env: TEST_ENV });
  return new EcsStagingEnvironment(stack, 'Staging', props);
}

function withDomain(domainName: string, certificate = false): () => EcsStagingEnvironment {
  return () => {
    const stack = new Stack(testApp(), 'Test', { env: TEST_ENV });
    const hostedZone = testZone(stack);
    return new EcsStagingEnvironment(stack, 'Staging', {
      domain: {
        domainName,
        hostedZone,
        certificate: certificate ? acm.Certificate.fromCertificateArn(stack, 'Cert', 'arn:aws:acm:us-east-1:123456789012:certificate/abc') : undefined,
      },
    });
  };
}

describe('propName', () => {
  test('gives both spellings where TypeScript and Python differ, one where they agree', () => {
    expect(propName('hostHeaders')).toBe('`hostHeaders` / `host_headers`');
    expect(propName('domain.domainName')).toBe('`domain.domainName` / `domain.domain_name`');
    expect(propName('tags')).toBe('`tags`');
    expect(propName('config', 'LOG_LEVEL')).toBe('`config.LOG_LEVEL`');
    expect(propName('configFromParameters', 'dbHost')).toBe('`configFromParameters.dbHost` / `config_from_parameters.dbHost`');
  });
});

describe('ALB conditions', () => {
  const scope = () => new Construct(new Stack(new App(), 'S'), 'C');

  test.each([
    ['a space', 'api example.com', 'holds a character an ALB host-header condition rejects'],
    ['no dot', 'localhost', "has no '.', which an ALB host-header condition requires"],
    ['a digit after the last dot', 'api.example.c0m', "ends in something other than letters after its last '.'"],
    ['a port', 'api.example.com:8443', 'holds a character an ALB host-header condition rejects'],
    ['129 characters', `${'a'.repeat(117)}.example.com`, 'is 129 characters, and an ALB host-header condition takes 1-128'],
  ])('a host header with %s fails through addService', (_, host, problem) => {
    expect(() => environment().addService('api', { hostHeaders: [host] })).toThrow(
      `Test/Staging/Edge: \`hostHeaders\` / \`host_headers\` of service 'api': '${host}' ${problem}`);
  });

  test.each([
    ['a space', '/api docs/*', 'holds a character an ALB path-pattern condition rejects'],
    ['a query string', '/api?x=1', 'holds a character an ALB path-pattern condition rejects'],
    ['a percent sign', '/caf%C3%A9', 'holds a character an ALB path-pattern condition rejects'],
    ['129 characters', `/${'a'.repeat(128)}`, 'is 129 characters, and an ALB path-pattern condition takes 1-128'],
  ])('a path pattern with %s fails through addService', (_, path, problem) => {
    expect(() => environment().addService('api', { pathPatterns: [path] })).toThrow(
      `Test/Staging/Edge: \`pathPatterns\` / \`path_patterns\` of service 'api': '${path}' ${problem}`);
  });

  test('accepts every character the ALB documents, and wildcards', () => {
    expect(() => validateHostHeader(scope(), 'hostHeaders', '', 'Api-1_x.*.ex?mple.COM', 'fix')).not.toThrow();
    expect(() => validatePathPattern(scope(), 'pathPatterns', '', '/a-z_A.Z0$9/~"\'@:+&*?', 'fix')).not.toThrow();
  });

  test('does not validate tokens as literals', () => {
    const env = environment();
    env.addService('api', { hostHeaders: [Token.asString(Aws.STACK_NAME)], pathPatterns: [Token.asString(Aws.REGION)] });
    const rules = Template.fromStack(Stack.of(env.services[0])).findResources('AWS::ElasticLoadBalancingV2::ListenerRule');
    expect(Object.keys(rules)).toHaveLength(1);
  });
});

describe('the domain', () => {
  test.each([
    ['a label of 64 characters', `${'a'.repeat(64)}.example.com`, `has the label '${'a'.repeat(64)}' of 64 characters, over the 63 of a DNS label`],
    ['an underscore', 'my_app.example.com', "has the label 'my_app', and DNS labels are letters, digits and hyphens, not starting or ending with a hyphen"],
    ['a label ending in a hyphen', 'app-.example.com', "has the label 'app-', and DNS labels are letters"],
    ['an empty label', 'app..example.com', "has the label '', and DNS labels are letters"],
  ])('fails with %s', (_, domainName, problem) => {
    expect(withDomain(domainName, true)).toThrow(`Test/Staging/Edge: \`domain.domainName\` / \`domain.domain_name\`: '${domainName}' ${problem}`);
  });

  test('fails beyond 64 characters when the edge requests the certificate', () => {
    const domainName = `${'a'.repeat(53)}.example.com`;
    expect(withDomain(domainName)).toThrow(`Test/Staging/Edge: \`domain.domainName\` / \`domain.domain_name\`: '${domainName}' is 65 characters, `
      + "over the 64 of a certificate's common name; use a name such as 'staging.example.com'");
  });

  test('takes a longer name with a certificate you bring, up to what the ALB condition matches', () => {
    expect(withDomain(`${'a'.repeat(53)}.example.com`, true)).not.toThrow();
    const tooLong = `${'a'.repeat(60)}.${'b'.repeat(60)}.example.com`;
    expect(withDomain(tooLong, true)).toThrow(`'${tooLong}' is 133 characters, and an ALB host-header condition takes 1-128`);
  });

  test('fails beyond 253 characters', () => {
    const scope = new Construct(new Stack(new App(), 'S'), 'C');
    const name = Array(4).fill('a'.repeat(63)).join('.') + '.com';
    expect(() => validateDnsName(scope, 'domain.domainName', name, 'fix')).toThrow(`'${name}' is 259 characters, over the 253 of a DNS name; fix`);
    // A wildcard first label and the fully qualified form (trailing dot) are DNS names too.
    expect(() => validateDnsName(scope, 'domain.domainName', '*.staging.example.com', 'fix')).not.toThrow();
    expect(() => validateDnsName(scope, 'domain.domainName', 'staging.example.com.', 'fix')).not.toThrow();
    expect(() => validateDnsName(scope, 'domain.domainName', 'a.*.example.com', 'fix')).toThrow("has the label '*'");
  });
});

describe('SSM parameter names', () => {
  test('fails on an environment name SSM reserves, before any parameter is made', () => {
    expect(() => environment({ environmentName: 'ssm-test' })).toThrow(
      "Test/Staging: `environmentName` / `environment_name` makes the SSM parameter name '/ssm-test/service/image-uri', which starts with aws or ssm, "
      + "which SSM reserves for its own parameters; choose a name that does not start with aws or ssm, e.g. 'staging'");
  });

  test('reads AWS\'s public parameters, which the prefix rule does not bar', () => {
    const scope = new Construct(new Stack(new App(), 'S'), 'C');
    expect(() => validateParameterName(scope, 'configFromParameters', 'AMI', '/aws/service/ecs/optimized-ami/amazon-linux-2023/recommended', 'fix', false)).not.toThrow();
    expect(() => validateParameterName(scope, 'config', 'X', '/aws/x', 'fix')).toThrow('which starts with aws or ssm');
  });
});

describe('IAM role names', () => {
  test('fails beyond 64 characters or on a character IAM rejects', () => {
    const scope = new Construct(new Stack(new App(), 'S'), 'C');
    const long = `${'a'.repeat(51)}-github-deploy`;
    expect(() => validateRoleName(scope, 'environmentName', long, 'shorten it')).toThrow(
      `\`environmentName\` / \`environment_name\` makes the IAM role name '${long}' (65 characters), and IAM takes 1-64 letters, digits and _+=,.@-; shorten it`);
    expect(() => validateRoleName(scope, 'environmentName', 'a/b', 'fix')).toThrow("makes the IAM role name 'a/b' (3 characters)");
    expect(() => validateRoleName(scope, 'environmentName', `${'a'.repeat(50)}-github-deploy`, 'fix')).not.toThrow();
  });
});

describe('tags', () => {
  test('tags every resource of the environment with the tags given', () => {
    const env = environment({ tags: { 'team': 'payments', 'cost-center': 'CC 1234/x' } });
    env.addService('web');
    const template = Template.fromStack(Stack.of(env));
    template.hasResourceProperties('AWS::EC2::VPC', {
      Tags: [
        { Key: 'cost-center', Value: 'CC 1234/x' }, { Key: 'environment', Value: 'staging' },
        { Key: 'managed-by', Value: 'cdk-ecs-staging' }, { Key: 'Name', Value: 'Test/Staging/Network/Vpc' }, { Key: 'team', Value: 'payments' },
      ],
    });
  });

  test.each([
    ['a key with a reserved prefix', { 'aws:team': 'x' }, "`tags`: tag key 'aws:team' starts with aws:, which AWS reserves for its own tags; rename the key"],
    ['a key of 129 characters', { ['k'.repeat(129)]: 'x' }, `\`tags\`: tag key '${'k'.repeat(129)}' is 129 characters, and a tag key takes 1-128; rename the key`],
    ['an empty key', { '': 'x' }, "`tags`: tag key '' is 0 characters, and a tag key takes 1-128; rename the key"],
    ['a key with a character tags reject', { 'team#1': 'x' }, "`tags`: tag key 'team#1' holds a character AWS tags reject (allowed: letters, digits, spaces and _ . : / = + - @); rename the key"],
    ['a value of 257 characters', { team: 'v'.repeat(257) }, `\`tags\`: tag value '${'v'.repeat(257)}' (of key 'team') is 257 characters, and a tag value takes 0-256; change the value`],
    ['a value with a character tags reject', { team: 'a&b' }, "`tags`: tag value 'a&b' (of key 'team') holds a character AWS tags reject"],
    ['a value with a reserved prefix', { team: 'AWS:x' }, "`tags`: tag value 'AWS:x' (of key 'team') starts with aws:"],
    ['a key the environment sets', { environment: 'prod' }, "`tags.environment` would clash with the 'environment' tag the environment sets itself (got 'prod'; tag keys are case-insensitive to IAM); choose another key"],
    ['a key the environment sets, in other capitals', { 'Managed-By': 'me' }, "`tags.Managed-By` would clash with the 'managed-by' tag the environment sets itself"],
    ["AWS CDK's Name tag, in other capitals", { name: 'x' }, "`tags.name` would clash with the 'Name' tag AWS CDK sets"],
    ['two keys that differ in case only', { Team: 'a', team: 'b' }, "`tags.team` would clash with the 'Team' tag you set too"],
    ['a value with a tab', { team: 'a\tb' }, "`tags`: tag value 'a\tb' (of key 'team') holds a character AWS tags reject"],
    ['48 tags', Object.fromEntries(Array.from({ length: 48 }, (_, i) => [`k${i}`, 'v'])),
      'tags holds 48 tags, and AWS takes 50 a resource, of which the environment and AWS CDK set 3; keep at most 47'],
  ])('fails on %s', (_, tags, message) => {
    expect(() => environment({ tags })).toThrow(`Test/Staging: ${message}`);
  });

  test('accepts an empty value and Unicode letters', () => {
    const scope = new Construct(new Stack(new App(), 'S'), 'C');
    expect(() => validateTag(scope, 'tags', 'équipe', '')).not.toThrow();
  });
});
