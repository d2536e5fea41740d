import { Annotations, Duration, Lazy, Stack, Token, Validations } from 'aws-cdk-lib';
import * as acm from 'aws-cdk-lib/aws-certificatemanager';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import * as route53 from 'aws-cdk-lib/aws-route53';
import * as targets from 'aws-cdk-lib/aws-route53-targets';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { certificateNameCovers } from './private/certificate-names';
import { DEFAULTS } from './private/defaults';
import { ERROR_PREFIX, StagingValidationError } from './private/errors';
import { statefulLifecycle } from './private/lifecycle';
import { acknowledge, acknowledgeCdkProviderOutsideVpc, GUARD } from './private/posture';
import { MAX_PREVIEWS, PREVIEW_PRIORITIES_PER_SLOT, PREVIEW_PRIORITY_BASE } from './private/preview-publication';
import { deriveCatchAllPriority, derivePriority, globContains, MAX_EXPLICIT_PRIORITY, RuleMatch, shadows } from './private/routing';
import { parseIpv4Cidr, propName, validateDnsName, validateHostHeader, validateIntegerRange, validatePathPattern } from './private/validation';

/**
 * The domain a staging environment serves HTTPS on.
 */
export interface StagingDomainOptions {
  /**
   * Fully qualified domain name, e.g. `staging.example.com`.
   *
   * Must be the hosted zone's name or a name below it.
   */
  readonly domainName: string;

  /**
   * Public hosted zone that holds the domain name: the certificate is validated in it and an alias
   * record points the domain name at the load balancer.
   *
   * @default - no DNS record; `certificate` is then required and you point the name yourself
   */
  readonly hostedZone?: route53.IHostedZone;

  /**
   * A certificate you bring, covering the domain name and every host of the services' `hostHeaders` (`host_headers`).
   *
   * Required for hosts outside the hosted zone. When it is an `acm.Certificate` of the same app
   * whose names are known at synth, each host is checked against them; an imported certificate is
   * trusted to cover them.
   *
   * @default - a new ACM certificate, DNS-validated in the hosted zone, naming the domain name and
   * each host of the services' `hostHeaders` (`host_headers`) in the zone
   */
  readonly certificate?: acm.ICertificate;

  /**
   * Let the new certificate name `*.<domainName>` (`*.<domain_name>`) too, so that it covers every host one label
   * below the domain (e.g. `api.staging.example.com`) without naming each one.
   *
   * An ACM certificate holds 10 names by default (the domain name and 9 more): set this when the
   * services use more hosts one label below the domain than that. Adding or removing a name
   * replaces the certificate (see the README, "Edge and routing"). Ignored with `certificate`.
   *
   * @default false - the certificate names the domain name and each host in the zone
   */
  readonly wildcardCertificate?: boolean;
}

/**
 * Properties of a `StagingEdge`.
 */
export interface StagingEdgeProps {
  /** The VPC whose public subnets hold the load balancer. */
  readonly vpc: ec2.IVpc;

  /**
   * Serve HTTPS on this domain (port 443, port 80 redirects).
   *
   * @default - HTTP on port 80 only, with a synth warning
   */
  readonly domain?: StagingDomainOptions;

  /**
   * IPv4 CIDR blocks allowed to reach the load balancer, to close staging to the public.
   *
   * @default - anywhere (0.0.0.0/0)
   */
  readonly allowedCidrs?: string[];

  /**
   * TLS policy of the HTTPS listener.
   *
   * @default elbv2.SslPolicy.RECOMMENDED_TLS (TLS 1.2 and 1.3 only)
   */
  readonly sslPolicy?: elbv2.SslPolicy;

  /**
   * Idle timeout of the load balancer's connections.
   *
   * @default Duration.seconds(60)
   */
  readonly idleTimeout?: Duration;

  /**
   * Protect the load balancer from deletion.
   *
   * @default false
   */
  readonly deletionProtection?: boolean;

  /**
   * Days the access logs are kept in their S3 bucket.
   *
   * @default 30
   */
  readonly accessLogsExpirationDays?: number;

  /**
   * Delete the access log bucket (and the logs in it) with the stack.
   *
   * @default false
   */
  readonly ephemeral?: boolean;

  /**
   * Make room for preview environments (`EcsStagingEnvironment` prop `previews`): the new
   * certificate names `*.<domainName>` (`*.<domain_name>`) too, a wildcard alias record points every host one label
   * below the domain at the load balancer, listener priorities 48001-49000 are kept for the previews'
   * rules, and no service may route a host that a preview's `pr-<number>-<service>.<domainName>` would match.
   * Needs `domain`.
   *
   * @default false
   */
  readonly previews?: boolean;
}

/**
 * How a service is routed by the edge.
 */
export interface StagingRouteOptions {
  /**
   * Host headers the rule matches (`*` and `?` wildcards allowed).
   *
   * @default - the environment's domain when it has one, else any host
   */
  readonly hostHeaders?: string[];
  /**
   * Path patterns the rule matches (`*` and `?` wildcards allowed), each starting with `/`.
   *
   * @default - any path
   */
  readonly pathPatterns?: string[];
  /**
   * Listener rule priority (1-49000): the ALB evaluates rules from the lowest number up.
   *
   * @default - derived from the route and the service's name, so that it never moves when other
   * services are added, removed or reordered: host-and-path routes first, then path routes, then
   * host routes, the more specific patterns first within each
   */
  readonly priority?: number;
}

/**
 * The listener rule a service gets: its priority and the conditions it matches.
 */
export interface StagingServiceRoute {
  /** Listener rule priority. */
  readonly priority: number;
  /** Host headers the rule matches; empty: any host. */
  readonly hostHeaders: string[];
  /** Path patterns the rule matches; empty: any path. */
  readonly pathPatterns: string[];
}

/**
 * Names one ACM certificate holds: its domain name and subject alternative names together (ACM
 * quota "Domain names per ACM certificate", default 10,
 * https://docs.aws.amazon.com/acm/latest/userguide/acm-limits.html).
 */
const MAX_CERTIFICATE_NAMES = 10;

/** Rules a security group holds a direction (AWS default quota). */
const SECURITY_GROUP_RULES = 60;
/** Listener rules (and target groups) per application load balancer (AWS default quotas). */
const MAX_RULES_PER_LOAD_BALANCER = 100;

interface ReservedRoute {
  readonly service: string;
  readonly catchAll: boolean;
  readonly key: string;
  readonly priority: number;
  readonly match: RuleMatch;
}

/**
 * The edge of a staging environment: an internet-facing ALB across
 * the public subnets, its security group, HTTPS with a DNS-validated certificate and an 80 → 443
 * redirect when a domain is given, a Route 53 alias, and access logs in S3.
 *
 * The listener's default action is a fixed 404: services attach by listener rules.
 */
export class StagingEdge extends Construct {
  /** The load balancer. */
  public readonly loadBalancer: elbv2.ApplicationLoadBalancer;

  /** The load balancer's security group: 80/443 in, egress only to the services. */
  public readonly securityGroup: ec2.SecurityGroup;

  /**
   * The security group every service's tasks join, without rules of its own: the load balancer
   * sends to it, one egress rule per container port, so that its rule count grows with the
   * distinct ports, not with the services (a security group holds 60 rules a direction).
   */
  public readonly servicesSecurityGroup: ec2.SecurityGroup;

  /**
   * With `previews`: the security group every preview task joins, and only it. It allows all
   * outbound traffic, as each service's own group does (a Fargate task on platform 1.4+ pulls its
   * image, reads its secrets and sends its logs through its own network interface), and admits the
   * load balancer on the previewed services' ports.
   *
   * @default - none without previews
   */
  public readonly previewsSecurityGroup?: ec2.SecurityGroup;

  /** The port 80 listener: redirects to HTTPS with a domain, serves the services without. */
  public readonly httpListener: elbv2.ApplicationListener;

  /** The port 443 listener, with a domain. */
  public readonly httpsListener?: elbv2.ApplicationListener;

  /**
   * The listener services attach to: HTTPS (443) with a domain, HTTP (80) without.
   *
   * Always set, whatever the props: the escape hatch for listener rules, actions or certificates of
   * your own. `httpsListener` / `https_listener` is optional, so typed code (TypeScript, Python under mypy or pyright)
   * would have to check it even with a domain.
   */
  public readonly listener: elbv2.ApplicationListener;

  /** The certificate of the HTTPS listener, with a domain. */
  public readonly certificate?: acm.ICertificate;

  /** The bucket that receives the access logs. */
  public readonly accessLogsBucket: s3.Bucket;

  /** The URL the environment answers on: `https://<domain>` or `http://<ALB DNS name>`. */
  public readonly url: string;

  /** The domain served over HTTPS, without a trailing dot, when there is one. */
  public readonly domainName?: string;

  private readonly routes: ReservedRoute[] = [];
  private readonly servicePorts = new Set<number>();
  /** Hosts of the services' routes (lower case) -> the first service that uses each. */
  private readonly routeHosts = new Map<string, string>();
  private readonly hostedZone?: route53.IHostedZone;
  /** The hosted zone's name, lower case, without a trailing dot, when known at synth. */
  private readonly zoneName?: string;
  /** The certificate the edge creates, whose names follow the routes' hosts. */
  private readonly ownCertificate?: acm.Certificate;
  /** The names of a brought certificate, when known at synth (lower case). */
  private readonly broughtCertificateNames?: string[];
  private readonly wildcardCertificate: boolean = false;
  private readonly previews: boolean;
  private readonly previewPorts = new Set<number>();

  constructor(scope: Construct, id: string, props: StagingEdgeProps) {
    super(scope, id);
    // One spelling of the name everywhere: ACM rejects a trailing dot.
    const domain = props.domain && { ...props.domain, domainName: props.domain.domainName.replace(/\.$/, '') };
    validateEdgeProps(this, props, domain);
    this.domainName = domain?.domainName;
    this.previews = props.previews ?? false;

    this.securityGroup = this.createSecurityGroup('SecurityGroup', props.vpc, 'Staging load balancer: HTTP/HTTPS in, egress to the services only');
    this.servicesSecurityGroup = this.createSecurityGroup('ServicesSecurityGroup', props.vpc, 'Staging services: every task joins it; the load balancer sends to it only');
    if (this.previews) {
      // Outbound to anywhere, as a service's own group: a Fargate task (platform 1.4+) pulls its
      // image, fetches its secrets and ships its logs over the task's own network interface
      // (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/fargate-task-networking.html).
      this.previewsSecurityGroup = new ec2.SecurityGroup(this, 'PreviewsSecurityGroup', {
        vpc: props.vpc,
        description: 'Staging previews: every preview task joins it; admits the load balancer only',
        allowAllOutbound: true,
      });
    }
    admitClients(this, this.securityGroup, props.allowedCidrs, domain ? [80, 443] : [80]);
    this.loadBalancer = this.createLoadBalancer(props);
    this.accessLogsBucket = this.createAccessLogs(props);
    acknowledgePublicLoadBalancer(this.loadBalancer, this.securityGroup, props.deletionProtection ?? false, props.allowedCidrs === undefined);

    if (domain) {
      this.hostedZone = domain.hostedZone;
      const zoneName = domain.hostedZone?.zoneName;
      this.zoneName = zoneName === undefined || Token.isUnresolved(zoneName) ? undefined : zoneName.replace(/\.$/, '').toLowerCase();
      if (domain.certificate) {
        this.certificate = domain.certificate;
        this.broughtCertificateNames = namesOf(domain.certificate);
        this.checkPreviewHostsCovered(domain.domainName);
      } else {
        // Previews answer on pr-<number>-<service>.<domain>: one wildcard name covers them all.
        this.wildcardCertificate = (domain.wildcardCertificate ?? false) || this.previews;
        this.ownCertificate = this.createCertificate(domain.domainName, domain.hostedZone!);
        this.certificate = this.ownCertificate;
        if (this.wildcardCertificate) {
          acknowledge(this.ownCertificate, {
            reason: this.previews
              ? `previews is set: each preview answers on its own host one label below the domain (pr-<number>-<service>.${domain.domainName}), which only '*.${domain.domainName}' covers without a new certificate per preview.`
              : `wildcardCertificate was asked for: '*.${domain.domainName}' covers the services' hosts one label below the domain beyond the 10 names of a certificate.`,
            checkov: ['CKV2_AWS_71'],
          });
        }
      }
    }
    const listeners = domain ? this.addHttpsListeners(domain, this.certificate!, props.sslPolicy) : this.addHttpListener();
    this.httpListener = listeners.httpListener;
    this.httpsListener = listeners.httpsListener;
    this.listener = listeners.listener;
    this.url = listeners.url;
  }

  /** A security group of the edge, without outbound rules of its own. */
  private createSecurityGroup(id: string, vpc: ec2.IVpc, description: string): ec2.SecurityGroup {
    return new ec2.SecurityGroup(this, id, { vpc, description, allowAllOutbound: false });
  }

  /** The internet-facing load balancer across the public subnets, dropping invalid headers. */
  private createLoadBalancer(props: StagingEdgeProps): elbv2.ApplicationLoadBalancer {
    return new elbv2.ApplicationLoadBalancer(this, 'LoadBalancer', {
      vpc: props.vpc,
      internetFacing: true,
      vpcSubnets: { subnetType: ec2.SubnetType.PUBLIC },
      securityGroup: this.securityGroup,
      dropInvalidHeaderFields: true,
      desyncMitigationMode: elbv2.DesyncMitigationMode.DEFENSIVE,
      idleTimeout: props.idleTimeout ?? Duration.seconds(60),
      deletionProtection: props.deletionProtection ?? false,
      http2Enabled: true,
    });
  }

  /** The bucket the load balancer writes its access logs to, and the logging itself. */
  private createAccessLogs(props: StagingEdgeProps): s3.Bucket {
    const expirationDays = props.accessLogsExpirationDays ?? DEFAULTS.accessLogsExpirationDays;
    const lifecycle = statefulLifecycle(props.ephemeral);
    const bucket = new s3.Bucket(this, 'AccessLogs', {
      encryption: s3.BucketEncryption.S3_MANAGED,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      lifecycleRules: [{ id: 'expire-access-logs', expiration: Duration.days(expirationDays), abortIncompleteMultipartUploadAfter: Duration.days(1) }],
      removalPolicy: lifecycle.removalPolicy,
      autoDeleteObjects: lifecycle.emptyOnDelete,
    });
    this.loadBalancer.logAccessLogs(bucket, 'alb');
    const autoDelete = bucket.node.tryFindChild('AutoDeleteObjectsCustomResource');
    if (autoDelete) {
      // CloudFormation deletes a resource before what it depends on: the load balancer (which
      // writes into the bucket until it is gone) is deleted before the bucket is emptied, so that
      // no log lands between the emptying and the bucket's deletion (BucketNotEmpty).
      this.loadBalancer.node.addDependency(autoDelete);
    }
    acknowledgeCdkProviderOutsideVpc(this, 'Custom::S3AutoDeleteObjectsCustomResourceProvider',
      'ephemeral: this is the AWS CDK function that empties the access-log bucket when the stack is deleted. It calls only the S3 API and holds no data, so it runs outside the VPC.');
    acknowledgeAccessLogsBucket(bucket);
    return bucket;
  }

  /** With a domain: HTTPS on 443 with the certificate, 80 redirecting to it, and the domain's alias record. */
  private addHttpsListeners(domain: StagingDomainOptions, certificate: acm.ICertificate, sslPolicy: elbv2.SslPolicy | undefined): EdgeListeners {
    const httpsListener = this.loadBalancer.addListener('HttpsListener', {
      port: 443,
      protocol: elbv2.ApplicationProtocol.HTTPS,
      certificates: [certificate],
      sslPolicy: sslPolicy ?? elbv2.SslPolicy.RECOMMENDED_TLS,
      defaultAction: notFound(),
      open: false,
    });
    const httpListener = this.loadBalancer.addListener('HttpListener', {
      port: 80,
      protocol: elbv2.ApplicationProtocol.HTTP,
      defaultAction: elbv2.ListenerAction.redirect({ protocol: 'HTTPS', port: '443', permanent: true }),
      open: false,
    });
    if (domain.hostedZone) {
      new route53.ARecord(this, 'AliasRecord', {
        zone: domain.hostedZone,
        recordName: domain.domainName,
        target: route53.RecordTarget.fromAlias(new targets.LoadBalancerTarget(this.loadBalancer)),
      });
      if (this.previews) {
        // One record for every preview host: Route 53 answers a name without a record of its own from
        // the wildcard one label above it, so the services' own records keep winning
        // (https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/DomainNameFormat.html#domain-name-format-asterisk).
        new route53.ARecord(this, 'PreviewsAliasRecord', {
          zone: domain.hostedZone,
          recordName: `*.${domain.domainName}.`,
          target: route53.RecordTarget.fromAlias(new targets.LoadBalancerTarget(this.loadBalancer)),
          comment: 'The hosts of the preview environments, pr-<number>-<service> (cdk-ecs-staging)',
        });
      }
    }
    return { httpListener, httpsListener, listener: httpsListener, url: `https://${domain.domainName}` };
  }

  /** Without a domain: plain HTTP on port 80, with a synth warning. */
  private addHttpListener(): EdgeListeners {
    const httpListener = this.loadBalancer.addListener('HttpListener', {
      port: 80,
      protocol: elbv2.ApplicationProtocol.HTTP,
      defaultAction: notFound(),
      open: false,
    });
    acknowledge(httpListener, {
      reason: 'Without a domain there is no certificate to serve HTTPS with, so port 80 serves the services. Set domain to get HTTPS and an 80 -> 443 redirect.',
      guard: ['alb_http_to_https_redirection_check'],
      checkov: ['CKV_AWS_2', 'CKV_AWS_103'],
    });
    Annotations.of(this).addWarningV2('cdk-ecs-staging:http-only',
      'No domain: the environment serves plain HTTP on port 80. Set `domain` (domainName and hostedZone, or a certificate; Python: domain_name, hosted_zone) to serve HTTPS with an 80 -> 443 redirect.');
    return { httpListener, listener: httpListener, url: `http://${this.loadBalancer.loadBalancerDnsName}` };
  }

  /**
   * Reserves the listener rule of a service's route and rejects collisions and shadowed routes.
   *
   * A route without host headers and paths is the catch-all (one per edge, priority 49001-50000, derived from its name, the
   * last the ALB evaluates). With a domain, a route without host headers matches the domain only,
   * so that other names (the load balancer's own DNS name among them) get the default 404.
   * Without an explicit priority, the priority is derived from the route and the service's name
   * alone, so adding, removing or reordering other services never moves it.
   *
   * @param service the service's name
   * @param route how the service is routed
   * @returns the priority and conditions of the service's listener rule
   */
  public reserveRoute(service: string, route: StagingRouteOptions): StagingServiceRoute {
    const { hosts, paths, catchAll, match } = this.routeMatch(service, route);
    const key = `${match.hosts.map((h) => h.toLowerCase()).sort().join(',')}|${[...match.paths].sort().join(',')}`;
    const sameRoute = this.routes.find((r) => r.key === key);
    if (sameRoute) {
      throw new StagingValidationError(this,
        `services '${sameRoute.service}' and '${service}' have the same route (hosts [${hosts.join(', ')}], paths [${paths.join(', ')}]); change the hostHeaders or pathPatterns of one of them`);
    }
    this.checkRouteLeavesPreviewsAlone(service, route, match);
    const priority = catchAll ? deriveCatchAllPriority(service) : route.priority ?? derivePriority(service, match);
    const samePriority = this.routes.find((r) => r.priority === priority);
    if (samePriority) {
      const fix = route.priority === undefined
        ? `set priority on '${service}' (1-${MAX_EXPLICIT_PRIORITY}, unused), so that the rule of '${samePriority.service}' does not move`
        : 'choose another priority';
      throw new StagingValidationError(this, `priority ${priority} of service '${service}' is already used by service '${samePriority.service}'; ${fix}`);
    }
    const reserved: ReservedRoute = { service, catchAll, key, priority, match };
    for (const other of this.routes) {
      const [first, second] = other.priority < priority ? [other, reserved] : [reserved, other];
      if (shadows(first.match, second.match)) {
        throw new StagingValidationError(this, shadowMessage(first, second));
      }
    }
    const newHosts = this.checkHostsCovered(service, hosts);
    this.routes.push(reserved);
    for (const host of newHosts) {
      this.addHost(service, host);
    }
    return { priority, hostHeaders: match.hosts, pathPatterns: match.paths };
  }

  /**
   * What a service's route matches, checked against the rules of one listener rule: within the
   * edge's quota, at most one catch-all, at most 5 values and 5 wildcards, valid hosts and paths.
   */
  private routeMatch(service: string, route: StagingRouteOptions): { hosts: string[]; paths: string[]; catchAll: boolean; match: RuleMatch } {
    if (this.routes.length >= MAX_RULES_PER_LOAD_BALANCER) {
      throw new StagingValidationError(this,
        `service '${service}' would be the ${this.routes.length + 1}th service of this load balancer (got ${this.routes.length} already), over the ${MAX_RULES_PER_LOAD_BALANCER} listener rules and target groups an ALB holds by default; put further services in another EcsStagingEnvironment (another environmentName), which brings its own load balancer`);
    }
    const hosts = route.hostHeaders ?? [];
    const paths = route.pathPatterns ?? [];
    const catchAll = hosts.length === 0 && paths.length === 0;
    if (catchAll && route.priority !== undefined) {
      throw new StagingValidationError(this, `priority of service '${service}' is set (got ${route.priority}) but it has no hostHeaders or pathPatterns; give it a route, or drop priority to make it the catch-all`);
    }
    const existingCatchAll = this.routes.find((r) => r.catchAll);
    if (catchAll && existingCatchAll) {
      throw new StagingValidationError(this,
        `services '${existingCatchAll.service}' and '${service}' both leave hostHeaders and pathPatterns out (got two catch-all services); give one of them hostHeaders or pathPatterns`);
    }
    validateIntegerRange(this, `priority of service '${service}'`, route.priority, 1, MAX_EXPLICIT_PRIORITY, `explicit priorities run 1-${MAX_EXPLICIT_PRIORITY}, before the catch-all's 49001-50000`);
    // What the rule matches: a route without hosts matches the domain only; the catch-all without a
    // domain matches every path (a rule needs at least one condition).
    const matchHosts = hosts.length === 0 && this.domainName ? [this.domainName] : hosts;
    const match: RuleMatch = { hosts: matchHosts, paths: catchAll && matchHosts.length === 0 ? ['/*'] : paths };
    const values = match.hosts.length + match.paths.length;
    if (values > 5) {
      throw new StagingValidationError(this,
        `service '${service}' has ${values} hostHeaders and pathPatterns${hosts.length === 0 ? ' (with the domain, which a route without hostHeaders matches)' : ''} (got more than 5); an ALB rule matches at most 5 values: split the routes over services or use wildcards`);
    }
    const wildcards = [...match.hosts, ...match.paths].filter((v) => !Token.isUnresolved(v)).join('').replace(/[^*?]/g, '').length;
    if (wildcards > 5) {
      throw new StagingValidationError(this,
        `service '${service}' has ${wildcards} wildcards (* and ?) in its hostHeaders and pathPatterns (got more than 5); an ALB rule holds at most 5 wildcards: use fewer patterns or fewer wildcards`);
    }
    for (const host of hosts) {
      validateHostHeader(this, 'hostHeaders', ` of service '${service}'`, host, 'write a host name such as \'api.example.com\' or \'*.example.com\'');
    }
    for (const path of paths) {
      validatePathPattern(this, 'pathPatterns', ` of service '${service}'`, path, 'write a path such as \'/api/*\'');
    }
    return { hosts, paths, catchAll, match };
  }

  /**
   * The names the edge's own certificate holds: the domain name first, then the hosts of the
   * routes in the hosted zone (and `*.<domain>` when asked), sorted, each named once, leaving out
   * a host that a wildcard name of the certificate already covers. A function of the set of hosts
   * alone, so the order in which services are added never changes the certificate.
   */
  private certificateNames(): string[] {
    const domain = this.domainName!;
    const candidates = new Set<string>(this.routeHosts.keys());
    if (this.wildcardCertificate) {
      candidates.add(`*.${domain.toLowerCase()}`);
    }
    candidates.delete(domain.toLowerCase());
    const all = [domain.toLowerCase(), ...candidates];
    const sans = [...candidates].filter((name) => !all.some((other) => other !== name && other.startsWith('*.') && certificateNameCovers(other, name)));
    return [domain, ...sans.sort()];
  }

  /**
   * The new certificate. Its subject alternative names and validation options are rendered at
   * synth from the hosts of every route (services reserve their routes after the edge exists).
   *
   * CloudFormation replaces a certificate whose SubjectAlternativeNames change ("Update requires:
   * Replacement", https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-certificatemanager-certificate.html):
   * it creates the new one, which it validates through DNS with one CNAME per name in the hosted
   * zone given in DomainValidationOptions (a name left out of them is never validated and the stack
   * waits until it times out), switches the listener to it and deletes the old one in cleanup, once
   * no listener uses it. ACM's validation CNAME of a name is the same from one certificate to the
   * next in an account, so the names the old certificate had validate at once.
   */
  private createCertificate(domainName: string, hostedZone: route53.IHostedZone): acm.Certificate {
    const certificate = new acm.Certificate(this, 'Certificate', {
      domainName,
      validation: acm.CertificateValidation.fromDns(hostedZone),
    });
    const resource = certificate.node.defaultChild as acm.CfnCertificate;
    resource.subjectAlternativeNames = Lazy.list({ produce: () => this.certificateNames().slice(1) }, { omitEmpty: true });
    resource.domainValidationOptions = Lazy.any({
      // One option per name; a wildcard name validates with the CNAME of the name below it, which
      // CloudFormation rejects twice in one list, so it is left out when that name is there too (as
      // aws-cdk-lib's Certificate does).
      produce: () => {
        const names = this.certificateNames();
        return names
          .filter((name) => !(name.startsWith('*.') && names.some((other) => other.toLowerCase() === name.slice(2))))
          .map((name) => ({ domainName: name, hostedZoneId: hostedZone.hostedZoneId }));
      },
    });
    this.node.addValidation({
      validate: () => {
        const names = this.certificateNames();
        return names.length <= MAX_CERTIFICATE_NAMES ? [] : [`${ERROR_PREFIX}${this.node.path}: the certificate of domain '${domainName}' would name ${names.length} domains `
          + `(got ${names.join(', ')}), over the ${MAX_CERTIFICATE_NAMES} an ACM certificate holds by default; set domain.wildcardCertificate (domain.wildcard_certificate) to true to cover the hosts `
          + `one label below '${domainName}' with '*.${domainName}', or pass domain.certificate with a certificate that covers them (ACM raises the quota on request)`];
      },
    });
    return certificate;
  }

  /**
   * Fails unless each host of a route is served with a certificate that covers it: a host in the
   * hosted zone joins the edge's own certificate (and gets an alias record), a host outside needs a
   * certificate brought through `domain.certificate`. Returns the hosts to add, lower case.
   * Without a domain (plain HTTP) no host needs a certificate; unresolved tokens are not checked.
   */
  private checkHostsCovered(service: string, hosts: string[]): string[] {
    const domain = this.domainName;
    if (domain === undefined) {
      return [];
    }
    const added: string[] = [];
    for (const host of hosts) {
      if (Token.isUnresolved(host)) {
        continue;
      }
      const name = host.toLowerCase();
      const where = `${propName('hostHeaders')} of service '${service}'`;
      // The zone's name, or (when it is a token) the domain's, which validateDomain keeps in the zone.
      const zone = this.zoneName ?? (this.hostedZone ? domain.toLowerCase() : undefined);
      const inZone = zone !== undefined && (name === zone || name.endsWith(`.${zone}`));
      if (inZone) {
        // A certificate names a host, or '*.' and the name below it (ACM RequestCertificate DomainName,
        // https://docs.aws.amazon.com/acm/latest/APIReference/API_RequestCertificate.html), and Route 53
        // reads '*' as a wildcard only as the whole leftmost label
        // (https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/DomainNameFormat.html, "Using an asterisk (*) in the names of hosted zones and records").
        if (/[*?]/.test(name.replace(/^\*\./, ''))) {
          throw new StagingValidationError(this, `${where}: '${host}' has a wildcard that neither a certificate nor a DNS record can name (a certificate and a record take '*' `
            + `only as the whole leftmost label, e.g. '*.${domain}', and never '?'); list the hosts, or use '*.' and the name below it`);
        }
        validateDnsName(this, 'hostHeaders', name, `use a host such as 'api.${domain}'`);
      } else if (!this.certificate || this.ownCertificate) {
        throw new StagingValidationError(this, `${where}: '${host}' is outside the hosted zone '${zone}', so the edge can neither validate `
          + `a certificate for it nor point it at the load balancer; use a host under '${zone}', or pass domain.certificate with a certificate that covers `
          + `'${host}' and '${domain}' (and point '${host}' at the load balancer yourself)`);
      }
      if (this.broughtCertificateNames && !this.broughtCertificateNames.some((certified) => certificateNameCovers(certified, name))) {
        throw new StagingValidationError(this, `${where}: '${host}' is not covered by the certificate of domain.certificate (got names ${this.broughtCertificateNames.join(', ')}); `
          + `add '${name}' (or a wildcard one label above it) to that certificate, or change the host`);
      }
      if (inZone && !this.routeHosts.has(name) && !added.includes(name)) {
        added.push(name);
      }
    }
    return added;
  }

  /**
   * Adds a host of a route, in the hosted zone: to the names of the edge's own certificate (through
   * `certificateNames()`), and an alias record to the load balancer, whose ID derives from the host
   * alone, so that it never moves when services are added, removed or reordered.
   */
  private addHost(service: string, host: string): void {
    // The record names no service: which service adds a host first depends on call order.
    this.routeHosts.set(host, service);
    if (this.hostedZone && host !== this.domainName!.toLowerCase()) {
      new route53.ARecord(this, `HostAlias-${host}`, {
        zone: this.hostedZone,
        recordName: `${host}.`,
        target: route53.RecordTarget.fromAlias(new targets.LoadBalancerTarget(this.loadBalancer)),
        comment: 'A host of the services\' routes (cdk-ecs-staging)',
      });
    }
  }

  /**
   * With previews: no service takes a priority kept for the previews, nor routes a host that a
   * preview's host (`pr-<number>-<service>.<domain>`) would match, since the services' rules come first.
   */
  private checkRouteLeavesPreviewsAlone(service: string, route: StagingRouteOptions, match: RuleMatch): void {
    if (!this.previews || this.domainName === undefined) {
      return;
    }
    const last = PREVIEW_PRIORITY_BASE + MAX_PREVIEWS * PREVIEW_PRIORITIES_PER_SLOT - 1;
    if (route.priority !== undefined && !Token.isUnresolved(route.priority) && route.priority >= PREVIEW_PRIORITY_BASE && route.priority <= last) {
      throw new StagingValidationError(this, `priority of service '${service}' is ${route.priority}, and ${PREVIEW_PRIORITY_BASE}-${last} are kept for the previews' rules (previews is set); `
        + `choose a priority from 1 to ${PREVIEW_PRIORITY_BASE - 1}`);
    }
    const previewHosts = `pr-*.${this.domainName.toLowerCase()}`;
    for (const host of match.hosts) {
      if (Token.isUnresolved(host)) continue;
      const name = host.toLowerCase();
      if (globContains(name, previewHosts) || globContains(previewHosts, name)) {
        throw new StagingValidationError(this, `${propName('hostHeaders')} of service '${service}': '${host}' would match the hosts of the previews (${previewHosts}), whose rules come after the services' (previews is set); `
          + 'list the service\'s hosts by name instead of a wildcard, and keep names starting with \'pr-\' for the previews');
      }
    }
  }

  /** With previews and a certificate of the same app whose names are known: it must cover the previews' hosts. */
  private checkPreviewHostsCovered(domainName: string): void {
    if (!this.previews || !this.broughtCertificateNames) {
      return;
    }
    const sample = `pr-1-web.${domainName.toLowerCase()}`;
    if (!this.broughtCertificateNames.some((certified) => certificateNameCovers(certified, sample))) {
      throw new StagingValidationError(this, `domain.certificate does not cover the previews' hosts (got names ${this.broughtCertificateNames.join(', ')}, previews is set); `
        + `add '*.${domainName}' to that certificate, or leave domain.certificate out to let the environment request one`);
    }
  }

  /**
   * Lets the load balancer reach a preview's tasks on a container port. A preview's tasks join the
   * previews security group only (a preview stack creates no security group): it admits the load
   * balancer on the previewed services' ports, and the load balancer's group sends to it, one rule
   * each way per distinct port. The services security group is left as it is.
   *
   * @param port the container port of a service that may have previews
   */
  public allowPreviewPort(port: number): void {
    const previews = this.previewsSecurityGroup;
    if (!previews || this.previewPorts.has(port) || Token.isUnresolved(port)) {
      return;
    }
    if (this.servicePorts.size + this.previewPorts.size >= SECURITY_GROUP_RULES) {
      throw new StagingValidationError(this,
        `container port ${port} of a service that may have previews would take the load balancer's security group past ${SECURITY_GROUP_RULES} egress rules `
        + `(${this.servicePorts.size} service ports, ${this.previewPorts.size} preview ports); let services share container ports, or list fewer in previews.services`);
    }
    this.previewPorts.add(port);
    previews.addIngressRule(this.securityGroup, ec2.Port.tcp(port), `From the load balancer to the previews on port ${port}`);
    this.securityGroup.addEgressRule(previews, ec2.Port.tcp(port), `To the previews on port ${port}`);
  }

  /**
   * Lets the load balancer reach the services on a container port: one egress rule per distinct
   * port, to the services security group.
   *
   * @param port the container port
   */
  public allowServicePort(port: number): void {
    if (!this.servicePorts.has(port)) {
      if (this.servicePorts.size + this.previewPorts.size >= SECURITY_GROUP_RULES) {
        throw new StagingValidationError(this,
          `container port ${port} would be the ${this.servicePorts.size + 1}th distinct port of the services (got ${[...this.servicePorts].join(', ')}), and the load balancer's security group holds ${SECURITY_GROUP_RULES} egress rules by default; let services share container ports`);
      }
      this.servicePorts.add(port);
    }
    this.securityGroup.addEgressRule(this.servicesSecurityGroup, ec2.Port.tcp(port), `To the services on port ${port}`);
  }
}

/** The listeners of the edge, and the URL it answers on. */
interface EdgeListeners {
  readonly httpListener: elbv2.ApplicationListener;
  readonly httpsListener?: elbv2.ApplicationListener;
  readonly listener: elbv2.ApplicationListener;
  readonly url: string;
}

/** The listeners' default action: services attach by listener rules, anything else gets 404. */
function notFound(): elbv2.ListenerAction {
  return elbv2.ListenerAction.fixedResponse(404, { contentType: 'text/plain', messageBody: 'Not found' });
}

/** Fails on props the edge cannot build: bad numbers, CIDR blocks or domain, or a stack without a region. */
function validateEdgeProps(scope: Construct, props: StagingEdgeProps, domain: StagingDomainOptions | undefined): void {
  validateIntegerRange(scope, 'accessLogsExpirationDays', props.accessLogsExpirationDays ?? DEFAULTS.accessLogsExpirationDays, 1, 3650, 'keep access logs 1 to 3650 days');
  validateIntegerRange(scope, 'idleTimeout (seconds)', props.idleTimeout?.toSeconds(), 1, 4000, 'the ALB accepts 1 to 4000 seconds');
  for (const cidr of props.allowedCidrs ?? []) {
    if (!Token.isUnresolved(cidr) && !isIpv4Cidr(cidr)) {
      throw new StagingValidationError(scope, `allowedCidrs must hold IPv4 CIDR blocks such as '203.0.113.0/24' (got '${cidr}')`);
    }
  }
  if (props.allowedCidrs && props.allowedCidrs.length === 0) {
    throw new StagingValidationError(scope, 'allowedCidrs must not be empty (got []); leave it out to admit anywhere, or list the CIDR blocks to admit');
  }
  if (domain) {
    validateDomain(scope, domain);
  } else if (props.previews) {
    throw new StagingValidationError(scope, 'previews needs a domain (got previews without domain): each preview answers on its own host, pr-<number>-<service>.<domain>; set domain, or drop previews');
  }
  if (Token.isUnresolved(Stack.of(scope).region)) {
    throw new StagingValidationError(scope,
      'the stack has no region (got an environment-agnostic stack), which the access-log bucket policy needs to admit the region\'s load-balancer log delivery; give the stack an env with a region (and an account)');
  }
}

/** Admits the clients to the load balancer's ports: the allow-list, or anywhere. */
function admitClients(scope: Construct, securityGroup: ec2.SecurityGroup, allowedCidrs: string[] | undefined, ports: number[]): void {
  const peers = allowedCidrs ? allowedCidrs.map((c) => ec2.Peer.ipv4(c)) : [ec2.Peer.anyIpv4()];
  if (peers.length * ports.length > SECURITY_GROUP_RULES) {
    throw new StagingValidationError(scope,
      `allowedCidrs holds ${peers.length} CIDR blocks (got ${peers.length * ports.length} ingress rules over ports ${ports.join(' and ')}), more than the ${SECURITY_GROUP_RULES} rules a security group holds by default; list at most ${Math.floor(SECURITY_GROUP_RULES / ports.length)} blocks, e.g. by merging them into wider ones`);
  }
  for (const peer of peers) {
    for (const port of ports) {
      securityGroup.addIngressRule(peer, ec2.Port.tcp(port), `HTTP${port === 443 ? 'S' : ''} from ${allowedCidrs ? 'the allow-list' : 'anywhere'}`);
    }
  }
}

/** The names of a certificate created in this app, when all are known at synth; else undefined. */
function namesOf(certificate: acm.ICertificate): string[] | undefined {
  const resource = certificate.node.defaultChild;
  if (!(resource instanceof acm.CfnCertificate)) {
    return undefined;
  }
  const names = [resource.domainName, ...(resource.subjectAlternativeNames ?? [])];
  return names.some((n) => Token.isUnresolved(n)) ? undefined : names.map((n) => n.toLowerCase().replace(/\.$/, ''));
}

function shadowMessage(first: ReservedRoute, second: ReservedRoute): string {
  const never = `service '${second.service}' (priority ${second.priority}) would never receive a request: service '${first.service}' (priority ${first.priority}) comes first and matches every request it matches`;
  if (second.catchAll) {
    return `${never}; narrow the hostHeaders or pathPatterns of '${first.service}'`;
  }
  return `${never}; give '${second.service}' a priority below ${first.priority}, or narrow the route of '${first.service}'`;
}

/** An IPv4 CIDR block with octets 0-255 and a prefix 0-32 (host bits allowed: a single address is `/32`). */
function isIpv4Cidr(cidr: string): boolean {
  const [address, prefix] = cidr.split('/');
  if (prefix === undefined || !/^\d{1,2}$/.test(prefix)) {
    return false;
  }
  return parseIpv4Cidr(`${address}/32`) !== undefined && Number(prefix) <= 32;
}

function validateDomain(scope: Construct, domain: StagingDomainOptions): void {
  if (!domain.hostedZone && !domain.certificate) {
    throw new StagingValidationError(scope,
      `domain '${domain.domainName}' needs a hostedZone (to validate a new certificate and add the DNS record) or a certificate (got neither); pass one of them`);
  }
  // The name is the certificate's common name (when the edge requests one), a Route 53 record and
  // the host every route matches: each of those services' limits applies.
  const fix = 'use a name such as \'staging.example.com\'';
  validateDnsName(scope, 'domain.domainName', domain.domainName, fix, domain.certificate ? undefined : 64);
  validateHostHeader(scope, 'domain.domainName', '', domain.domainName, fix);
  const zoneName = domain.hostedZone?.zoneName;
  if (zoneName === undefined || Token.isUnresolved(zoneName) || Token.isUnresolved(domain.domainName)) {
    return;
  }
  const name = domain.domainName.replace(/\.$/, '').toLowerCase();
  const zone = zoneName.replace(/\.$/, '').toLowerCase();
  if (name !== zone && !name.endsWith(`.${zone}`)) {
    throw new StagingValidationError(scope, `domain.domainName must be in the hosted zone '${zone}' (got '${domain.domainName}'); use a name that ends in '.${zone}', or pass the zone that holds it`);
  }
}

function acknowledgeAccessLogsBucket(bucket: s3.Bucket): void {
  acknowledge(bucket,
    {
      reason: 'This bucket is itself the destination of the load balancer\'s access logs; logging access to it would loop and double the cost.',
      nag: ['AwsSolutions-S1'],
      guard: ['s3_bucket_logging_enabled_check'],
      checkov: ['CKV_AWS_18'],
    },
    {
      reason: 'Access logs are written once and expire on their own; versions would keep what the lifecycle rule is meant to delete.',
      guard: ['s3_bucket_versioning_enabled_check'],
      checkov: ['CKV_AWS_21'],
    },
    {
      reason: 'The bucket is encrypted with SSE-S3 because ALB access logs cannot be delivered to a bucket encrypted with a KMS key.',
      guard: ['s3_bucket_default_encryption_kms_check'],
    },
    {
      reason: 'The access logs expire on their own after the configured days; object lock would keep what the lifecycle rule is meant to delete.',
      guard: ['s3_bucket_object_lock_enabled_check'],
    },
    {
      reason: 'Nothing consumes access-log objects as they arrive; add a notification through edge.accessLogsBucket if you ship them elsewhere.',
      guard: ['s3_event_notifications_enabled_check'],
    },
  );
}

function acknowledgePublicLoadBalancer(
  loadBalancer: elbv2.ApplicationLoadBalancer,
  securityGroup: ec2.SecurityGroup,
  deletionProtection: boolean,
  openToAnywhere: boolean,
): void {
  if (openToAnywhere) {
    acknowledge(securityGroup, {
      reason: 'A public staging load balancer admits HTTP/HTTPS from anywhere by design (80 only redirects to 443 when a domain is set). Pass allowedCidrs to close the environment to the public.',
      nag: ['AwsSolutions-EC23'],
      checkov: ['CKV_AWS_260'],
    });
  }
  if (!deletionProtection) {
    Validations.of(loadBalancer).acknowledge({
      id: `${GUARD}::elbv2_deletion_protection_enabled_check`,
      reason: 'Staging is torn down and rebuilt at will and the load balancer holds no data. Set deletionProtection (Python: deletion_protection) to true to protect it.',
    });
  }
}
