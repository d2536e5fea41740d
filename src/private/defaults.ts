import { Duration } from 'aws-cdk-lib';
import * as logs from 'aws-cdk-lib/aws-logs';

/** Every default of the library, in one place. A changed value here is a visible decision. */
export const DEFAULTS = {
  /** Walkthrough step 2: 10.0.0.0/16. */
  vpcCidr: '10.0.0.0/16',
  /** Walkthrough: 2+ AZs. Two is the cheapest layout that survives an AZ outage. */
  maxAzs: 2,
  /** Flow logs are for debugging a staging network, not for audit: two weeks is enough. */
  flowLogRetention: logs.RetentionDays.TWO_WEEKS,
  /** The library's own deploy-time function logs a few lines per deploy: two weeks is enough. */
  helperLogRetention: logs.RetentionDays.TWO_WEEKS,
  /** Smallest Graviton instance: enough to forward a staging environment's egress. */
  natInstanceType: 't4g.nano',
  /** Public subnets are /24 below a /16 VPC (prefix + 8); private subnets are prefix + 3 (/19 below a /16). */
  publicSubnetPrefixOffset: 8,
  privateSubnetPrefixOffset: 3,
  /** ALB access logs are for debugging a staging edge: a month is enough. */
  accessLogsExpirationDays: 30,
  /** The VPC prefix lengths the subnet layout fits in. */
  minVpcPrefix: 16,
  maxVpcPrefix: 20,
  /** Walkthrough step 10: 512 CPU units / 1024 MiB, the smallest size most web apps start in. */
  cpu: 512,
  memoryLimitMiB: 1024,
  /** Walkthrough step 8: port 80. */
  containerPort: 80,
  /** Walkthrough step 11: 1-2 tasks; 1 is the cheapest (with a warning). */
  desiredCount: 1,
  /** Walkthrough step 8: HTTP health check on /health. */
  healthCheckPath: '/health',
  /** Enough for most apps to start before the first health check counts. */
  healthCheckGracePeriod: Duration.seconds(60),
  /** Staging needs fast rollouts, not long drains (ALB default: 300 s). */
  deregistrationDelay: Duration.seconds(30),
  /** Walkthrough step 11: scale on CPU >= 60 %. */
  targetCpuPercent: 60,
  /** Images kept per repository: enough to roll back a few weeks of staging deploys. */
  maxImageCount: 20,
  /** Walkthrough step 7: 14-30 days for staging. */
  serviceLogRetention: logs.RetentionDays.ONE_MONTH,
  /**
   * Runs until the pipeline pushes the app: static-web-server 2.44 (Alpine variant, non-root user
   * `sws`, uid 1000, writes no file), from GitHub's container registry, which has no anonymous pull
   * quota. In maintenance mode with status 200 it answers every GET and HEAD, on any path, with a
   * fixed page: no state a request can change, nothing about the task revealed
   * (github.com/static-web-server/static-web-server v2.44.0: src/maintenance_mode.rs,
   * src/settings/cli.rs, docker/alpine/Dockerfile).
   */
  // Never change this value in a release: it is the Value of every service's image-uri parameter,
  // and a changed Value would overwrite the image the pipeline wrote there.
  placeholderImage: 'ghcr.io/static-web-server/static-web-server:2.44.0-alpine',
  /**
   * Opens the writable volumes of a read-only root filesystem to every user before the app starts:
   * the placeholder's image again (Alpine, so BusyBox's `chmod`), already pinned and free of pull
   * quotas, so the library depends on no second third-party image.
   */
  writablePathsImage: 'ghcr.io/static-web-server/static-web-server:2.44.0-alpine',
  /** Memory of the container that opens the writable volumes (it runs one chmod and exits); the app gets the rest of the task's. */
  writablePathsMemoryMiB: 16,
  /** Environment names are short: they prefix parameter paths and resource names. */
  maxEnvironmentNameLength: 16,
} as const;

function steps(from: number, to: number, step: number): number[] {
  const result = [];
  for (let value = from; value <= to; value += step) {
    result.push(value);
  }
  return result;
}

/** Fargate's valid task memory (MiB) for each CPU value (Linux). */
export const FARGATE_MEMORY_BY_CPU: { readonly [cpu: number]: number[] } = {
  256: [512, 1024, 2048],
  512: steps(1024, 4096, 1024),
  1024: steps(2048, 8192, 1024),
  2048: steps(4096, 16384, 1024),
  4096: steps(8192, 30720, 1024),
  8192: steps(16384, 61440, 4096),
  16384: steps(32768, 122880, 8192),
};
