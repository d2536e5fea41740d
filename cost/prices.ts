/**
 * us-east-1 list prices, in USD, as published on the AWS pricing pages on the date below. Change
 * a figure only together with PRICES_DATE, then run `npx projen cost --write` to regenerate the
 * README's cost section.
 */
export const PRICES_DATE = '2026-11-27';

/** Hours in a month, as AWS's pricing examples count them. */
export const HOURS_PER_MONTH = 730;

export const PRICES = {
  /** https://aws.amazon.com/fargate/pricing/ (Linux/x86 and Linux/ARM, per hour). */
  fargate: {
    x86: { vcpuHour: 0.04048, gbHour: 0.004445 },
    arm64: { vcpuHour: 0.03238, gbHour: 0.00356 },
  },
  /**
   * Fargate Spot prices move with spare capacity; AWS quotes "up to 70%" off on-demand, which is
   * what we count (https://aws.amazon.com/fargate/pricing/).
   */
  fargateSpotShareOfOnDemand: 0.3,
  /** https://aws.amazon.com/elasticloadbalancing/pricing/ (Application Load Balancer). */
  alb: { hour: 0.0225, lcuHour: 0.008 },
  /** https://aws.amazon.com/vpc/pricing/ (NAT gateway hour; interface endpoint hour per AZ; public IPv4 address hour). */
  natGatewayHour: 0.045,
  interfaceEndpointAzHour: 0.01,
  publicIpv4Hour: 0.005,
  /** https://aws.amazon.com/ec2/pricing/on-demand/ (the NAT instance types the library offers). */
  ec2Hour: { 't4g.nano': 0.0042, 't4g.micro': 0.0084, 't4g.small': 0.0168, 't3.nano': 0.0052, 't3.micro': 0.0104 } as Record<string, number>,
  /** https://aws.amazon.com/cloudwatch/pricing/ (standard-resolution alarm, per metric; custom dashboard). */
  alarmMetricMonth: 0.1,
  dashboardMonth: 3,
  /** https://aws.amazon.com/secrets-manager/pricing/ (per secret). */
  secretMonth: 0.4,
  /** https://aws.amazon.com/kms/pricing/ (per customer managed key). */
  kmsKeyMonth: 1,
} as const;

/** What the estimate assumes about use, stated beside the figures. */
export const ASSUMPTIONS = {
  /**
   * Load balancer capacity units an hour. A staging load balancer rarely uses one (an LCU is 25 new
   * connections a second, or 1 GB an hour); counting one keeps the estimate on the safe side.
   */
  lcuPerHour: 1,
};

/** Charges that depend on use, left out of the estimate and named under it. */
export const USAGE_CHARGES = [
  'data processed by the NAT gateway and interface endpoints, and data transfer out',
  'CloudWatch Logs ingestion and storage (container logs, flow logs), Container Insights metrics',
  'ECR image storage, S3 storage of access logs and pipeline artifacts, CodeBuild minutes',
  'Route 53 hosted zone and queries (the zone is yours), SNS deliveries',
];
