import { App, Duration, Stack } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import * as acm from 'aws-cdk-lib/aws-certificatemanager';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import { EcsStagingEnvironment, StagingDomainOptions, StagingEdge, StagingEdgeProps, StagingRouteOptions } from '../src';
import { TEST_ZONE_ID, testStack, testZone } from './harness/apps';
import { derivePriority } from '../src/private/routing';

const CERTIFICATE_ARN = 'arn:aws:acm:us-east-1:123456789012:certificate/11111111-2222-3333-4444-555555555555';
const HTTP_ONLY_WARNING = 'No domain: the environment serves plain HTTP on port 80. Set `domain` (domainName and hostedZone, or a certificate; Python: domain_name, hosted_zone) '
  + 'to serve HTTPS with an 80 -> 443 redirect. [ack: cdk-ecs-staging:http-only]';
/** The egress rule CDK puts on a security group that may send nothing. */
const NO_EGRESS = [{ CidrIp: '255.255.255.255/32', Description: 'Disallow all traffic', FromPort: 252, IpProtocol: 'icmp', ToPort: 86 }];
const NOT_FOUND = { Type: 'fixed-response', FixedResponseConfig: { StatusCode: '404', ContentType: 'text/plain', MessageBody: 'Not found' } };

/** A VPC with public subnets only: all an edge needs. */
function publicVpc(stack: Stack): ec2.Vpc {
  return new ec2.Vpc(stack, 'Vpc', { maxAzs: 2, natGateways: 0, subnetConfiguration: [{ name: 'Public', subnetType: ec2.SubnetType.PUBLIC }] });
}

/** Synthesizes one edge in a fresh env-specific stack; `props` may use the stack (for a zone or a certificate). */
function synthEdge(props: (stack: Stack) => Omit<StagingEdgeProps, 'vpc'> = () => ({})) {
  const stack = testStack();
  const vpc = publicVpc(stack);
  const edge = new StagingEdge(stack, 'Edge', { vpc, ...props(stack) });
  return { stack, vpc, edge, template: Template.fromStack(stack) };
}

/** The attributes of the (one) load balancer, key -> value. */
function attributesOf(template: Template): Record<string, unknown> {
  const [lb] = Object.values(template.findResources('AWS::ElasticLoadBalancingV2::LoadBalancer'));
  return Object.fromEntries(lb.Properties.LoadBalancerAttributes.map((a: { Key: string; Value: unknown }) => [a.Key, a.Value]));
}

/** The ingress rules of the edge's security group, without their descriptions. */
function ingressOf(template: Template): Array<Record<string, unknown>> {
  const [group] = Object.values(template.findResources('AWS::EC2::SecurityGroup', { Properties: { GroupDescription: Match.stringLikeRegexp('^Staging load balancer') } }));
  return group.Properties.SecurityGroupIngress.map(({ Description: _, ...rule }: Record<string, unknown>) => rule);
}

describe('StagingEdge', () => {
  describe('without a domain (HTTP only)', () => {
    let stack: Stack;
    let vpc: ec2.Vpc;
    let edge: StagingEdge;
    let template: Template;
    beforeAll(() => {
      ({ stack, vpc, edge, template } = synthEdge());
    });

    test('applies the documented defaults', () => {
      // THEN: an internet-facing ALB in the public subnets, HTTP on 80 only, 60 s idle timeout, no deletion protection, logs kept 30 days
      template.hasResourceProperties('AWS::ElasticLoadBalancingV2::LoadBalancer', {
        Type: 'application',
        Scheme: 'internet-facing',
        Subnets: stack.resolve(vpc.publicSubnets.map((s) => s.subnetId)),
        SecurityGroups: [stack.resolve(edge.securityGroup.securityGroupId)],
      });
      expect(attributesOf(template)).toMatchObject({
        'idle_timeout.timeout_seconds': '60',
        'deletion_protection.enabled': 'false',
        'routing.http2.enabled': 'true',
      });
      template.resourceCountIs('AWS::ElasticLoadBalancingV2::LoadBalancer', 1);
      template.resourceCountIs('AWS::ElasticLoadBalancingV2::Listener', 1);
      template.resourceCountIs('AWS::ElasticLoadBalancingV2::ListenerRule', 0);
      template.resourceCountIs('AWS::CertificateManager::Certificate', 0);
      template.resourceCountIs('AWS::Route53::RecordSet', 0);
      template.hasResourceProperties('AWS::S3::Bucket', { LifecycleConfiguration: { Rules: [Match.objectLike({ ExpirationInDays: 30 })] } });
      template.hasResource('AWS::S3::Bucket', { DeletionPolicy: 'Retain', UpdateReplacePolicy: 'Retain' });
      template.resourceCountIs('Custom::S3AutoDeleteObjects', 0);
      expect(edge.httpsListener).toBeUndefined();
      expect(edge.certificate).toBeUndefined();
      expect(edge.listener).toBe(edge.httpListener);
      expect(stack.resolve(edge.url)).toEqual({ 'Fn::Join': ['', ['http://', stack.resolve(edge.loadBalancer.loadBalancerDnsName)]] });
    });

    test('serves port 80 with a fixed 404 as the default action', () => {
      template.hasResourceProperties('AWS::ElasticLoadBalancingV2::Listener', {
        LoadBalancerArn: stack.resolve(edge.loadBalancer.loadBalancerArn),
        Port: 80,
        Protocol: 'HTTP',
        DefaultActions: [NOT_FOUND],
      });
    });

    test('warns at synth that it serves plain HTTP', () => {
      Annotations.fromStack(stack).hasWarning('/Test/Edge', HTTP_ONLY_WARNING);
    });

    test('admits port 80 from anywhere and nothing else', () => {
      expect(ingressOf(template)).toEqual([{ CidrIp: '0.0.0.0/0', FromPort: 80, ToPort: 80, IpProtocol: 'tcp' }]);
    });

    test('sends nothing anywhere while no service is attached', () => {
      template.hasResourceProperties('AWS::EC2::SecurityGroup', { GroupDescription: Match.stringLikeRegexp('^Staging load balancer'), SecurityGroupEgress: NO_EGRESS });
      template.resourceCountIs('AWS::EC2::SecurityGroupEgress', 0);
    });

    test('drops invalid headers and mitigates desync attacks', () => {
      expect(attributesOf(template)).toMatchObject({
        'routing.http.drop_invalid_header_fields.enabled': 'true',
        'routing.http.desync_mitigation_mode': 'defensive',
      });
    });

    test('writes its access logs to the bucket under the alb/ prefix', () => {
      expect(attributesOf(template)).toMatchObject({
        'access_logs.s3.enabled': 'true',
        'access_logs.s3.bucket': stack.resolve(edge.accessLogsBucket.bucketName),
        'access_logs.s3.prefix': 'alb',
      });
    });

    test('keeps the access logs in a private, encrypted, TLS-only bucket that expires them', () => {
      template.resourceCountIs('AWS::S3::Bucket', 1);
      template.hasResourceProperties('AWS::S3::Bucket', {
        BucketEncryption: { ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] },
        PublicAccessBlockConfiguration: { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true },
        OwnershipControls: { Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }] },
        LifecycleConfiguration: {
          Rules: [{ Id: 'expire-access-logs', Status: 'Enabled', ExpirationInDays: 30, AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 } }],
        },
      });
      template.hasResourceProperties('AWS::S3::BucketPolicy', {
        Bucket: stack.resolve(edge.accessLogsBucket.bucketName),
        PolicyDocument: {
          Statement: Match.arrayWith([Match.objectLike({
            Effect: 'Deny',
            Action: 's3:*',
            Principal: { AWS: '*' },
            Condition: { Bool: { 'aws:SecureTransport': 'false' } },
          })]),
        },
      });
    });
  });

  describe('with a service attached', () => {
    let stack: Stack;
    let env: EcsStagingEnvironment;
    let template: Template;
    beforeAll(() => {
      // GIVEN
      stack = testStack();
      env = new EcsStagingEnvironment(stack, 'Staging');
      // WHEN: three services, two of them on the same port
      env.addService('web', { containerPort: 8080 });
      env.addService('api', { containerPort: 8080, pathPatterns: ['/api/*'] });
      env.addService('admin', { containerPort: 3000, pathPatterns: ['/admin/*'] });
      template = Template.fromStack(stack);
    });

    test('sends traffic only to the services security group, one rule per distinct container port', () => {
      template.resourceCountIs('AWS::EC2::SecurityGroupEgress', 2);
      for (const port of [8080, 3000]) {
        template.hasResourceProperties('AWS::EC2::SecurityGroupEgress', {
          GroupId: stack.resolve(env.edge.securityGroup.securityGroupId),
          DestinationSecurityGroupId: stack.resolve(env.edge.servicesSecurityGroup.securityGroupId),
          IpProtocol: 'tcp',
          FromPort: port,
          ToPort: port,
        });
      }
      // The services security group has no rule of its own: membership only.
      template.hasResourceProperties('AWS::EC2::SecurityGroup', {
        GroupDescription: Match.stringLikeRegexp('^Staging services'),
        SecurityGroupIngress: Match.absent(),
      });
      template.resourceCountIs('AWS::EC2::SecurityGroupIngress', 0);
      // The placeholder goes: CloudFormation drops the default egress as soon as a rule is added.
      template.hasResourceProperties('AWS::EC2::SecurityGroup', {
        GroupDescription: Match.stringLikeRegexp('^Staging load balancer'),
        SecurityGroupEgress: Match.absent(),
      });
    });
  });

  describe('with a domain and a hosted zone (HTTPS)', () => {
    let stack: Stack;
    let edge: StagingEdge;
    let template: Template;
    beforeAll(() => {
      ({ stack, edge, template } = synthEdge((s) => ({ domain: { domainName: 'staging.example.com', hostedZone: testZone(s) } })));
    });

    test('requests a certificate for the domain, DNS-validated in the zone', () => {
      template.resourceCountIs('AWS::CertificateManager::Certificate', 1);
      template.hasResourceProperties('AWS::CertificateManager::Certificate', {
        DomainName: 'staging.example.com',
        ValidationMethod: 'DNS',
        DomainValidationOptions: [{ DomainName: 'staging.example.com', HostedZoneId: TEST_ZONE_ID }],
      });
      expect(edge.certificate).toBeDefined();
    });

    test('serves HTTPS on 443 with TLS 1.2/1.3 and a fixed 404 as the default action', () => {
      template.resourceCountIs('AWS::ElasticLoadBalancingV2::Listener', 2);
      template.hasResourceProperties('AWS::ElasticLoadBalancingV2::Listener', {
        Port: 443,
        Protocol: 'HTTPS',
        SslPolicy: 'ELBSecurityPolicy-TLS13-1-2-2021-06',
        Certificates: [{ CertificateArn: stack.resolve(edge.certificate!.certificateArn) }],
        DefaultActions: [NOT_FOUND],
      });
      expect(edge.listener).toBe(edge.httpsListener);
      expect(edge.url).toBe('https://staging.example.com');
    });

    test('redirects port 80 permanently to HTTPS on 443', () => {
      template.hasResourceProperties('AWS::ElasticLoadBalancingV2::Listener', {
        Port: 80,
        Protocol: 'HTTP',
        DefaultActions: [{ Type: 'redirect', RedirectConfig: { Protocol: 'HTTPS', Port: '443', StatusCode: 'HTTP_301' } }],
      });
    });

    test('points the domain at the load balancer with an alias record', () => {
      template.resourceCountIs('AWS::Route53::RecordSet', 1);
      template.hasResourceProperties('AWS::Route53::RecordSet', {
        HostedZoneId: TEST_ZONE_ID,
        Name: 'staging.example.com.',
        Type: 'A',
        AliasTarget: {
          DNSName: { 'Fn::Join': ['', ['dualstack.', stack.resolve(edge.loadBalancer.loadBalancerDnsName)]] },
          HostedZoneId: stack.resolve(edge.loadBalancer.loadBalancerCanonicalHostedZoneId),
        },
      });
    });

    test('admits ports 80 and 443 from anywhere', () => {
      expect(ingressOf(template)).toEqual([
        { CidrIp: '0.0.0.0/0', FromPort: 80, ToPort: 80, IpProtocol: 'tcp' },
        { CidrIp: '0.0.0.0/0', FromPort: 443, ToPort: 443, IpProtocol: 'tcp' },
      ]);
    });

    test('does not warn about plain HTTP', () => {
      Annotations.fromStack(stack).hasNoWarning('*', Match.stringLikeRegexp('cdk-ecs-staging:http-only'));
    });
  });

  test('serves a domain with a brought certificate and no hosted zone: no new certificate, no record', () => {
    // GIVEN / WHEN
    const { stack, edge, template } = synthEdge((s) => ({
      domain: { domainName: 'staging.example.org', certificate: acm.Certificate.fromCertificateArn(s, 'Certificate', CERTIFICATE_ARN) },
    }));
    // THEN
    template.resourceCountIs('AWS::CertificateManager::Certificate', 0);
    template.resourceCountIs('AWS::Route53::RecordSet', 0);
    template.hasResourceProperties('AWS::ElasticLoadBalancingV2::Listener', { Port: 443, Certificates: [{ CertificateArn: CERTIFICATE_ARN }] });
    template.hasResourceProperties('AWS::ElasticLoadBalancingV2::Listener', { Port: 80, DefaultActions: [Match.objectLike({ Type: 'redirect' })] });
    expect(edge.url).toBe('https://staging.example.org');
    Annotations.fromStack(stack).hasNoWarning('*', Match.stringLikeRegexp('cdk-ecs-staging:http-only'));
  });

  test('uses a brought certificate and still adds the record when a hosted zone is given too', () => {
    const { template } = synthEdge((s) => ({
      domain: { domainName: 'staging.example.com', hostedZone: testZone(s), certificate: acm.Certificate.fromCertificateArn(s, 'Certificate', CERTIFICATE_ARN) },
    }));
    template.resourceCountIs('AWS::CertificateManager::Certificate', 0);
    template.resourceCountIs('AWS::Route53::RecordSet', 1);
  });

  test('serves the zone apex', () => {
    const { template } = synthEdge((s) => ({ domain: { domainName: 'example.com', hostedZone: testZone(s) } }));
    template.hasResourceProperties('AWS::Route53::RecordSet', { Name: 'example.com.', Type: 'A' });
  });

  test('uses the domain name without its trailing dot', () => {
    const { edge, template } = synthEdge((s) => ({ domain: { domainName: 'staging.example.com.', hostedZone: testZone(s) } }));
    template.hasResourceProperties('AWS::CertificateManager::Certificate', { DomainName: 'staging.example.com' });
    expect(edge.url).toBe('https://staging.example.com');
  });

  test('takes another TLS policy', () => {
    const { template } = synthEdge((s) => ({ domain: { domainName: 'staging.example.com', hostedZone: testZone(s) }, sslPolicy: elbv2.SslPolicy.TLS13_13 }));
    template.hasResourceProperties('AWS::ElasticLoadBalancingV2::Listener', { Port: 443, SslPolicy: 'ELBSecurityPolicy-TLS13-1-3-2021-06' });
  });

  test('admits only the allowed CIDR blocks, on every port it serves', () => {
    // GIVEN / WHEN
    const { template } = synthEdge((s) => ({
      domain: { domainName: 'staging.example.com', hostedZone: testZone(s) },
      allowedCidrs: ['203.0.113.0/24', '198.51.100.7/32'],
    }));
    // THEN
    expect(ingressOf(template)).toEqual([
      { CidrIp: '203.0.113.0/24', FromPort: 80, ToPort: 80, IpProtocol: 'tcp' },
      { CidrIp: '203.0.113.0/24', FromPort: 443, ToPort: 443, IpProtocol: 'tcp' },
      { CidrIp: '198.51.100.7/32', FromPort: 80, ToPort: 80, IpProtocol: 'tcp' },
      { CidrIp: '198.51.100.7/32', FromPort: 443, ToPort: 443, IpProtocol: 'tcp' },
    ]);
  });

  test('takes the idle timeout, deletion protection and access-log expiration', () => {
    const { template } = synthEdge(() => ({ idleTimeout: Duration.minutes(5), deletionProtection: true, accessLogsExpirationDays: 90 }));
    expect(attributesOf(template)).toMatchObject({ 'idle_timeout.timeout_seconds': '300', 'deletion_protection.enabled': 'true' });
    template.hasResourceProperties('AWS::S3::Bucket', { LifecycleConfiguration: { Rules: [Match.objectLike({ ExpirationInDays: 90 })] } });
  });

  test('deletes the access logs bucket and the logs in it with the stack when ephemeral', () => {
    const { template } = synthEdge(() => ({ ephemeral: true }));
    template.hasResource('AWS::S3::Bucket', { DeletionPolicy: 'Delete', UpdateReplacePolicy: 'Delete' });
    template.resourceCountIs('Custom::S3AutoDeleteObjects', 1);
    // The load balancer, which writes logs until it is gone, is deleted before the bucket is emptied (no BucketNotEmpty).
    const [autoDelete] = Object.keys(template.findResources('Custom::S3AutoDeleteObjects'));
    template.hasResource('AWS::ElasticLoadBalancingV2::LoadBalancer', { DependsOn: Match.arrayWith([autoDelete]) });
  });

  describe('listener rules', () => {
    let stack: Stack;
    let env: EcsStagingEnvironment;
    let template: Template;
    beforeAll(() => {
      // GIVEN: an HTTPS environment
      stack = testStack();
      env = new EcsStagingEnvironment(stack, 'Staging', { domain: { domainName: 'staging.example.com', hostedZone: testZone(stack) } });
      // WHEN: services routed by host, by path, with an explicit priority, and a catch-all, in that order
      env.addService('api', { hostHeaders: ['api.staging.example.com'] });
      env.addService('docs', { pathPatterns: ['/docs', '/docs/*'] });
      env.addService('admin', { hostHeaders: ['admin.staging.example.com'], pathPatterns: ['/admin/*'], priority: 5 });
      env.addService('web');
      template = Template.fromStack(stack);
    });

    /** The listener rule of a service, in its nested stack, on the HTTPS listener (a parameter of that stack). */
    function ruleOf(service: string): { Priority: number; Conditions: unknown[] } {
      const target = env.services.find((s) => s.serviceName === service)!;
      const rules = Object.values(Template.fromStack(Stack.of(target)).findResources('AWS::ElasticLoadBalancingV2::ListenerRule', {
        Properties: {
          ListenerArn: { Ref: Match.stringLikeRegexp('EdgeLoadBalancerHttpsListener') },
          Actions: [{ Type: 'forward', TargetGroupArn: Stack.of(target).resolve(target.targetGroup.targetGroupArn) }],
        },
      }));
      expect(rules).toHaveLength(1);
      return rules[0].Properties;
    }

    test('derives priorities from the route and the name: path routes on the domain before host routes', () => {
      const api = ruleOf('api');
      const docs = ruleOf('docs');
      expect(api.Conditions).toEqual([{ Field: 'host-header', HostHeaderConfig: { Values: ['api.staging.example.com'] } }]);
      // A route without hosts matches the domain only, so other names (the ALB's own DNS name) get the default 404.
      expect(docs.Conditions).toEqual([
        { Field: 'host-header', HostHeaderConfig: { Values: ['staging.example.com'] } },
        { Field: 'path-pattern', PathPatternConfig: { Values: ['/docs', '/docs/*'] } },
      ]);
      expect(docs.Priority).toBeGreaterThanOrEqual(1);
      expect(docs.Priority).toBeLessThanOrEqual(16000);
      expect(api.Priority).toBeGreaterThan(32000);
      expect(api.Priority).toBeLessThanOrEqual(48000);
    });

    test('honours an explicit priority and matches both hosts and paths', () => {
      expect(ruleOf('admin')).toEqual(expect.objectContaining({
        Priority: 5,
        Conditions: [
          { Field: 'host-header', HostHeaderConfig: { Values: ['admin.staging.example.com'] } },
          { Field: 'path-pattern', PathPatternConfig: { Values: ['/admin/*'] } },
        ],
      }));
    });

    test('gives the service without a route the last priorities, 49001-50000, on the domain only', () => {
      const web = ruleOf('web');
      expect(web.Conditions).toEqual([{ Field: 'host-header', HostHeaderConfig: { Values: ['staging.example.com'] } }]);
      expect(web.Priority).toBeGreaterThan(49000);
      expect(web.Priority).toBeLessThanOrEqual(50000);
      template.resourceCountIs('AWS::ElasticLoadBalancingV2::ListenerRule', 0);
    });

    test('attaches no rule to the redirecting port 80 listener', () => {
      // Each service's nested stack receives the HTTPS listener only.
      const nestedStacks = Object.values(template.findResources('AWS::CloudFormation::Stack'));
      expect(nestedStacks).toHaveLength(4);
      for (const nested of nestedStacks) {
        expect(Object.keys(nested.Properties.Parameters).filter((p) => /Listener/.test(p))).toEqual([expect.stringMatching(/HttpsListener/)]);
      }
      for (const service of env.services) {
        expect(JSON.stringify(Template.fromStack(Stack.of(service)).toJSON())).not.toContain('HttpListener');
      }
    });
  });

  describe('hosts of the routes', () => {
    /** An HTTPS environment on staging.example.com (zone example.com) with `services` added in order. */
    function environment(services: Array<[string, StagingRouteOptions]>, domain: Partial<StagingDomainOptions> = {}) {
      const stack = testStack();
      const env = new EcsStagingEnvironment(stack, 'Staging', { domain: { domainName: 'staging.example.com', hostedZone: testZone(stack), ...domain } });
      for (const [name, route] of services) {
        env.addService(name, route);
      }
      return { stack, env, template: Template.fromStack(stack) };
    }
    /** The alias records of the environment, record name -> logical ID. */
    function aliasRecords(template: Template): Record<string, string> {
      return Object.fromEntries(Object.entries(template.findResources('AWS::Route53::RecordSet'))
        .map(([id, r]) => [r.Properties.Name, id]));
    }
    const SERVICES: Array<[string, StagingRouteOptions]> = [
      ['admin', { hostHeaders: ['admin.staging.example.com'] }],
      ['api', { hostHeaders: ['API.example.com'], pathPatterns: ['/v1/*'] }],
      ['api2', { hostHeaders: ['api.example.com'], pathPatterns: ['/v2/*'] }],
      ['web', {}],
    ];

    test('names each host in the zone on the certificate, DNS-validated, and points it at the load balancer', () => {
      // GIVEN / WHEN: two hosts in the zone (one written in upper case, and used by two services)
      const { stack, env, template } = environment(SERVICES);
      // THEN: the certificate names the domain and both hosts, each validated in the zone
      template.resourceCountIs('AWS::CertificateManager::Certificate', 1);
      template.hasResourceProperties('AWS::CertificateManager::Certificate', {
        DomainName: 'staging.example.com',
        SubjectAlternativeNames: ['admin.staging.example.com', 'api.example.com'],
        DomainValidationOptions: ['staging.example.com', 'admin.staging.example.com', 'api.example.com'].map((name) => ({ DomainName: name, HostedZoneId: TEST_ZONE_ID })),
      });
      // AND: one alias record per distinct host, beside the domain's
      expect(Object.keys(aliasRecords(template)).sort()).toEqual(['admin.staging.example.com.', 'api.example.com.', 'staging.example.com.']);
      template.hasResourceProperties('AWS::Route53::RecordSet', {
        Name: 'admin.staging.example.com.',
        Type: 'A',
        HostedZoneId: TEST_ZONE_ID,
        AliasTarget: {
          DNSName: { 'Fn::Join': ['', ['dualstack.', stack.resolve(env.edge.loadBalancer.loadBalancerDnsName)]] },
          HostedZoneId: stack.resolve(env.edge.loadBalancer.loadBalancerCanonicalHostedZoneId),
        },
      });
    });

    test('derives the certificate and the records from the set of hosts, not from the order of the services', () => {
      // GIVEN: the same services, added in two orders
      const forward = environment(SERVICES).template;
      const backward = environment([...SERVICES].reverse()).template;
      // THEN: the same certificate and the same records under the same logical IDs
      expect(backward.findResources('AWS::CertificateManager::Certificate')).toEqual(forward.findResources('AWS::CertificateManager::Certificate'));
      expect(backward.findResources('AWS::Route53::RecordSet')).toEqual(forward.findResources('AWS::Route53::RecordSet'));
    });

    test('adds a host by replacing the certificate, which the listener follows, and leaves the certificate as it was while no route adds one', () => {
      // GIVEN: an environment whose services use the domain only, then one more service on a host
      const certificateOf = (template: Template) => Object.entries(template.findResources('AWS::CertificateManager::Certificate'))[0];
      const [idBefore, before] = certificateOf(environment([['web', {}], ['docs', { pathPatterns: ['/docs/*'] }]]).template);
      const { template: after } = environment([['web', {}], ['docs', { pathPatterns: ['/docs/*'] }], ['admin', { hostHeaders: ['admin.staging.example.com'] }]]);
      const [idAfter, certificate] = certificateOf(after);
      // THEN: before, the certificate is the one earlier releases made (no change on upgrade)
      expect(before.Properties.SubjectAlternativeNames).toBeUndefined();
      expect(before.Properties.DomainValidationOptions).toEqual([{ DomainName: 'staging.example.com', HostedZoneId: TEST_ZONE_ID }]);
      // AND: after, the same logical ID with a new name (SubjectAlternativeNames: "Update requires: Replacement"), validated
      // like the others so that the new certificate issues, and the HTTPS listener takes the new one by reference
      expect(idAfter).toBe(idBefore);
      expect(certificate.Properties.SubjectAlternativeNames).toEqual(['admin.staging.example.com']);
      expect(certificate.Properties.DomainValidationOptions).toContainEqual({ DomainName: 'admin.staging.example.com', HostedZoneId: TEST_ZONE_ID });
      after.hasResourceProperties('AWS::ElasticLoadBalancingV2::Listener', { Port: 443, Certificates: [{ CertificateArn: { Ref: idAfter } }] });
    });

    test('certifies and points a wildcard host, which covers the hosts one label below it', () => {
      const { template } = environment([['admin', { hostHeaders: ['admin.staging.example.com'] }], ['preview', { hostHeaders: ['*.staging.example.com'] }]]);
      // The wildcard covers admin: one name less on the certificate; it validates with the domain's CNAME.
      template.hasResourceProperties('AWS::CertificateManager::Certificate', {
        SubjectAlternativeNames: ['*.staging.example.com'],
        DomainValidationOptions: [{ DomainName: 'staging.example.com', HostedZoneId: TEST_ZONE_ID }],
      });
      expect(Object.keys(aliasRecords(template)).sort()).toEqual(['*.staging.example.com.', 'admin.staging.example.com.', 'staging.example.com.']);
    });

    test('names *.<domain> instead of each host one label below it with wildcardCertificate', () => {
      const hosts = Array.from({ length: 12 }, (_, i) => `app${i}.staging.example.com`);
      const { template } = environment(hosts.map((host, i) => [`app${i}`, { hostHeaders: [host] }]), { wildcardCertificate: true });
      template.hasResourceProperties('AWS::CertificateManager::Certificate', {
        SubjectAlternativeNames: ['*.staging.example.com'],
        DomainValidationOptions: [{ DomainName: 'staging.example.com', HostedZoneId: TEST_ZONE_ID }],
      });
      expect(Object.keys(aliasRecords(template))).toHaveLength(13);
    });

    test('serves a host outside the zone with a brought certificate, and points only the hosts in the zone', () => {
      const stack = testStack();
      const env = new EcsStagingEnvironment(stack, 'Staging', {
        domain: { domainName: 'staging.example.com', hostedZone: testZone(stack), certificate: acm.Certificate.fromCertificateArn(stack, 'Certificate', CERTIFICATE_ARN) },
      });
      env.addService('api', { hostHeaders: ['api.example.org'] });
      env.addService('admin', { hostHeaders: ['admin.staging.example.com'] });
      const template = Template.fromStack(stack);
      template.resourceCountIs('AWS::CertificateManager::Certificate', 0);
      expect(Object.keys(aliasRecords(template)).sort()).toEqual(['admin.staging.example.com.', 'staging.example.com.']);
    });

    test('fails when a host is outside the hosted zone and no certificate is given', () => {
      expect(() => environment([['api', { hostHeaders: ['api.example.org'] }]])).toThrow(
        "Test/Staging/Edge: `hostHeaders` / `host_headers` of service 'api': 'api.example.org' is outside the hosted zone 'example.com', so the edge can neither validate "
        + "a certificate for it nor point it at the load balancer; use a host under 'example.com', or pass domain.certificate with a certificate that covers "
        + "'api.example.org' and 'staging.example.com' (and point 'api.example.org' at the load balancer yourself)");
    });

    test.each(['api-*.staging.example.com', 'api.*.example.com', 'ap?.staging.example.com'])('fails when host %p has a wildcard no certificate can name', (host) => {
      expect(() => environment([['api', { hostHeaders: [host] }]])).toThrow(
        `Test/Staging/Edge: \`hostHeaders\` / \`host_headers\` of service 'api': '${host}' has a wildcard that neither a certificate nor a DNS record can name`);
    });

    test('fails when a host in the zone is not a DNS name', () => {
      expect(() => environment([['api', { hostHeaders: ['api_v1.staging.example.com'] }]])).toThrow(
        "`hostHeaders` / `host_headers`: 'api_v1.staging.example.com' has the label 'api_v1', and DNS labels are letters, digits and hyphens");
    });

    test('fails at synth when the certificate would name more than the 10 domains ACM allows by default', () => {
      // GIVEN: ten hosts, and the domain: 11 names
      const services: Array<[string, StagingRouteOptions]> = Array.from({ length: 10 }, (_, i) => [`app${i}`, { hostHeaders: [`app${i}.staging.example.com`] }]);
      // THEN: synth fails with the fix; nine hosts synthesize
      expect(() => environment(services)).toThrow(/\[cdk-ecs-staging\] Test\/Staging\/Edge: the certificate of domain 'staging.example.com' would name 11 domains .*over the 10 an ACM certificate holds by default; set domain.wildcardCertificate/);
      expect(() => environment(services.slice(0, 9))).not.toThrow();
    });

    test('fails when a brought certificate of the app does not cover a host', () => {
      const stack = testStack();
      const certificate = new acm.Certificate(stack, 'Certificate', { domainName: 'staging.example.com', subjectAlternativeNames: ['*.staging.example.com'] });
      const env = new EcsStagingEnvironment(stack, 'Staging', { domain: { domainName: 'staging.example.com', hostedZone: testZone(stack), certificate } });
      env.addService('admin', { hostHeaders: ['admin.staging.example.com'] });
      expect(() => env.addService('api', { hostHeaders: ['api.example.com'] })).toThrow(
        "Test/Staging/Edge: `hostHeaders` / `host_headers` of service 'api': 'api.example.com' is not covered by the certificate of domain.certificate "
        + "(got names staging.example.com, *.staging.example.com); add 'api.example.com' (or a wildcard one label above it) to that certificate, or change the host");
      // A wildcard covers one label only.
      expect(() => env.addService('deep', { hostHeaders: ['a.b.staging.example.com'] })).toThrow(/'a.b.staging.example.com' is not covered by the certificate/);
    });
  });

  test('attaches the rules to the port 80 listener without a domain, the catch-all matching every host and path', () => {
    const stack = testStack();
    const env = new EcsStagingEnvironment(stack, 'Staging');
    const web = env.addService('web');
    Template.fromStack(Stack.of(web)).hasResourceProperties('AWS::ElasticLoadBalancingV2::ListenerRule', {
      ListenerArn: { Ref: Match.stringLikeRegexp('EdgeLoadBalancerHttpListener') },
      Priority: Match.anyValue(),
      Conditions: [{ Field: 'path-pattern', PathPatternConfig: { Values: ['/*'] } }],
    });
  });

  describe('priorities that do not move', () => {
    const ROUTES: Record<string, StagingRouteOptions> = {
      a: { hostHeaders: ['a.example.com'] },
      b: { pathPatterns: ['/b/*'] },
      c: { hostHeaders: ['c.example.com'], pathPatterns: ['/c/*'] },
      d: { pathPatterns: ['/d', '/d/*'] },
      e: { hostHeaders: ['e.example.com'] },
      web: {},
    };
    function priorities(names: string[]): Record<string, number> {
      const { edge } = synthEdge();
      return Object.fromEntries(names.map((n) => [n, edge.reserveRoute(n, ROUTES[n]).priority]));
    }

    test('keeps every other service\'s priority when services are added, removed and reordered', () => {
      // (The catch-all's priority too depends on its name alone: renamed, its new rule lands beside the old one.)
      // GIVEN: the priorities of five services and a catch-all
      const before = priorities(['a', 'b', 'c', 'd', 'e', 'web']);
      // WHEN: the first routed service is removed, one is inserted, the rest reordered
      const after = priorities(['web', 'e', 'd', 'c', 'b']);
      // THEN: no remaining service's rule moves (CloudFormation would fail the update with PriorityInUse)
      for (const name of Object.keys(after)) {
        expect(`${name}: ${after[name]}`).toBe(`${name}: ${before[name]}`);
      }
      expect(new Set(Object.values(before)).size).toBe(6);
    });

    test('orders host-and-path routes before path routes before host routes, whatever the names', () => {
      const p = priorities(['a', 'b', 'c', 'web']);
      expect(p.c).toBeLessThan(p.b);
      expect(p.b).toBeLessThan(p.a);
      expect(p.a).toBeLessThan(p.web);
    });

    test('fails at synth when the derived priorities put a general path before a specific one', () => {
      // GIVEN: two path routes whose names happen to put the general one first
      const { edge } = synthEdge();
      const general = edge.reserveRoute('api', { pathPatterns: ['/api/*'] }).priority;
      const specificName = ['api-v2', 'v2', 'next', 'beta', 'api-next'].find((n) => derivePriority(n, { hosts: [], paths: ['/api/v2/*'] }) > general)!;
      // THEN: the shadowed one is rejected, with the fix
      expect(() => edge.reserveRoute(specificName, { pathPatterns: ['/api/v2/*'] })).toThrow(
        new RegExp(`service '${specificName}' \\(priority \\d+\\) would never receive a request: service 'api' \\(priority ${general}\\) comes first`));
    });

    test('reaches a path route that a host route on the same domain would otherwise shadow', () => {
      // GIVEN: web on the domain by host, api by path (the two, added in this order, used to get 10 and 20)
      const { edge } = synthEdge();
      const web = edge.reserveRoute('web', { hostHeaders: ['staging.example.com'] }).priority;
      const api = edge.reserveRoute('api', { pathPatterns: ['/api/*'] }).priority;
      // THEN: /api/* on the domain reaches api
      expect(api).toBeLessThan(web);
    });
  });

  describe('fails at synth on bad input', () => {
    function environment(): EcsStagingEnvironment {
      return new EcsStagingEnvironment(testStack(), 'Staging');
    }

    test('fails when two services leave hostHeaders and pathPatterns out', () => {
      const env = environment();
      env.addService('web');
      expect(() => env.addService('api')).toThrow(
        "Test/Staging/Edge: services 'web' and 'api' both leave hostHeaders and pathPatterns out (got two catch-all services); give one of them hostHeaders or pathPatterns");
    });

    test('fails when two services have the same route, in any order', () => {
      const env = environment();
      env.addService('api', { hostHeaders: ['a.example.com', 'b.example.com'], pathPatterns: ['/v1/*'] });
      expect(() => env.addService('api2', { hostHeaders: ['b.example.com', 'a.example.com'], pathPatterns: ['/v1/*'] })).toThrow(
        "Test/Staging/Edge: services 'api' and 'api2' have the same route (hosts [b.example.com, a.example.com], paths [/v1/*]); change the hostHeaders or pathPatterns of one of them");
    });

    test('fails when a route has more than the 5 values an ALB rule matches', () => {
      expect(() => environment().addService('api', { hostHeaders: ['a.example.com', 'b.example.com', 'c.example.com'], pathPatterns: ['/a/*', '/b/*', '/c/*'] }))
        .toThrow("Test/Staging/Edge: service 'api' has 6 hostHeaders and pathPatterns (got more than 5); an ALB rule matches at most 5 values: split the routes over services or use wildcards");
    });

    test('fails when a path pattern does not start with /', () => {
      expect(() => environment().addService('api', { pathPatterns: ['api/*'] }))
        .toThrow("Test/Staging/Edge: `pathPatterns` / `path_patterns` of service 'api': 'api/*' does not start with '/', as the path of every request does (for example '/api/*'); "
          + "write a path such as '/api/*'");
    });

    test('fails when a host header is longer than 128 characters', () => {
      const host = `${'a'.repeat(120)}.example.com`;
      expect(() => environment().addService('api', { hostHeaders: [host] }))
        .toThrow(`Test/Staging/Edge: \`hostHeaders\` / \`host_headers\` of service 'api': '${host}' is 132 characters, and an ALB host-header condition takes 1-128; `
          + "write a host name such as 'api.example.com' or '*.example.com'");
    });

    test('fails when two services ask for the same priority', () => {
      const env = environment();
      env.addService('api', { hostHeaders: ['api.example.com'], priority: 7 });
      expect(() => env.addService('docs', { pathPatterns: ['/docs/*'], priority: 7 })).toThrow(
        "Test/Staging/Edge: priority 7 of service 'docs' is already used by service 'api'; choose another priority");
    });

    test('fails when an explicit priority takes a derived one', () => {
      const env = environment();
      const api = env.addService('api', { hostHeaders: ['api.example.com'] });
      const taken = Template.fromStack(Stack.of(api)).findResources('AWS::ElasticLoadBalancingV2::ListenerRule');
      const priority = Object.values(taken)[0].Properties.Priority;
      expect(() => env.addService('docs', { pathPatterns: ['/docs/*'], priority })).toThrow(
        `Test/Staging/Edge: priority ${priority} of service 'docs' is already used by service 'api'; choose another priority`);
    });

    test('fails when an explicit priority puts a general route before a specific one', () => {
      const env = environment();
      env.addService('all', { pathPatterns: ['/*'], priority: 1 });
      expect(() => env.addService('api', { pathPatterns: ['/api/*'] })).toThrow(
        /^\[cdk-ecs-staging\] Test\/Staging\/Edge: service 'api' \(priority \d+\) would never receive a request: service 'all' \(priority 1\) comes first and matches every request it matches; give 'api' a priority below 1, or narrow the route of 'all'$/);
    });

    test('fails when a routed service leaves nothing to the catch-all', () => {
      // GIVEN: with a domain, the catch-all matches the domain, which '*.com' covers
      const stack = testStack();
      const env = new EcsStagingEnvironment(stack, 'Staging', { domain: { domainName: 'staging.example.com', hostedZone: testZone(stack) } });
      env.addService('web');
      expect(() => env.addService('all', { pathPatterns: ['/*'], hostHeaders: ['*.com'] })).toThrow(
        /^\[cdk-ecs-staging\] Test\/Staging\/Edge: service 'web' \(priority \d+\) would never receive a request: service 'all' \(priority \d+\) comes first and matches every request it matches; narrow the hostHeaders or pathPatterns of 'all' \[Python: host_headers, path_patterns\]$/);
    });

    test('fails when the catch-all service has a priority', () => {
      expect(() => environment().addService('web', { priority: 5 })).toThrow(
        "Test/Staging/Edge: priority of service 'web' is set (got 5) but it has no hostHeaders or pathPatterns; give it a route, or drop priority to make it the catch-all");
    });

    test.each([0, 49001, 2.5, -1])('fails when priority is %p', (priority) => {
      expect(() => environment().addService('api', { hostHeaders: ['api.example.com'], priority })).toThrow(
        `Test/Staging/Edge: priority of service 'api' must be an integer from 1 to 49000 (got ${priority}); explicit priorities run 1-49000, before the catch-all's 49001-50000`);
    });

    test('fails when the domain is outside the hosted zone', () => {
      const stack = testStack();
      expect(() => new StagingEdge(stack, 'Edge', { vpc: publicVpc(stack), domain: { domainName: 'staging.other.com', hostedZone: testZone(stack) } })).toThrow(
        "Test/Edge: domain.domainName must be in the hosted zone 'example.com' (got 'staging.other.com'); use a name that ends in '.example.com', or pass the zone that holds it");
    });

    test('fails when the domain only ends like the zone', () => {
      const stack = testStack();
      expect(() => new StagingEdge(stack, 'Edge', { vpc: publicVpc(stack), domain: { domainName: 'staging.notexample.com', hostedZone: testZone(stack) } }))
        .toThrow("Test/Edge: domain.domainName must be in the hosted zone 'example.com' (got 'staging.notexample.com')");
    });

    test('fails when the domain has neither a hosted zone nor a certificate', () => {
      const stack = testStack();
      expect(() => new StagingEdge(stack, 'Edge', { vpc: publicVpc(stack), domain: { domainName: 'staging.example.com' } })).toThrow(
        "Test/Edge: domain 'staging.example.com' needs a hostedZone (to validate a new certificate and add the DNS record) or a certificate (got neither); pass one of them");
    });

    test.each(['banana', '10.0.0/16', '10.0.0.0', '203.0.113.0/24 '])('fails when an allowedCidrs entry is %p', (cidr) => {
      const stack = testStack();
      expect(() => new StagingEdge(stack, 'Edge', { vpc: publicVpc(stack), allowedCidrs: ['198.51.100.0/24', cidr] })).toThrow(
        `Test/Edge: allowedCidrs must hold IPv4 CIDR blocks such as '203.0.113.0/24' (got '${cidr}')`);
    });

    // over 32 pass synth and fail at deploy (EC2 rejects the ingress rule). Validate with parseIpv4Cidr from private/validation, as
    // StagingNetwork does (allowing host bits or not, but at least octets 0-255 and prefix 0-32).
    test.each(['10.0.0.0/40', '300.0.0.0/8'])('fails when an allowedCidrs entry is out of range: %p', (cidr) => {
      const stack = testStack();
      expect(() => new StagingEdge(stack, 'Edge', { vpc: publicVpc(stack), allowedCidrs: [cidr] })).toThrow(
        `Test/Edge: allowedCidrs must hold IPv4 CIDR blocks such as '203.0.113.0/24' (got '${cidr}')`);
    });

    test('fails when allowedCidrs is empty', () => {
      const stack = testStack();
      expect(() => new StagingEdge(stack, 'Edge', { vpc: publicVpc(stack), allowedCidrs: [] })).toThrow(
        'Test/Edge: allowedCidrs must not be empty (got []); leave it out to admit anywhere, or list the CIDR blocks to admit');
    });

    test.each([0, 3651, 1.5])('fails when accessLogsExpirationDays is %p', (accessLogsExpirationDays) => {
      const stack = testStack();
      expect(() => new StagingEdge(stack, 'Edge', { vpc: publicVpc(stack), accessLogsExpirationDays })).toThrow(
        `Test/Edge: accessLogsExpirationDays must be an integer from 1 to 3650 (got ${accessLogsExpirationDays}); keep access logs 1 to 3650 days`);
    });

    test('fails when idleTimeout is over 4000 seconds', () => {
      const stack = testStack();
      expect(() => new StagingEdge(stack, 'Edge', { vpc: publicVpc(stack), idleTimeout: Duration.seconds(4001) })).toThrow(
        'Test/Edge: idleTimeout (seconds) must be an integer from 1 to 4000 (got 4001); the ALB accepts 1 to 4000 seconds');
    });

    test('fails when the stack has no region', () => {
      const stack = new Stack(new App(), 'Agnostic');
      expect(() => new StagingEdge(stack, 'Edge', { vpc: publicVpc(stack) })).toThrow(
        /^\[cdk-ecs-staging\] Agnostic\/Edge: the stack has no region \(got an environment-agnostic stack\)/);
    });
  });
});
