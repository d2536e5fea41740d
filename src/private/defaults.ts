import * as logs from 'aws-cdk-lib/aws-logs';

/** Every default of the library, in one place. A changed value here is a visible decision. */
export const DEFAULTS = {
  /** Walkthrough step 2: 10.0.0.0/16. */
  vpcCidr: '10.0.0.0/16',
  /** Walkthrough: 2+ AZs. Two is the cheapest layout that survives an AZ outage. */
  maxAzs: 2,
  /** Flow logs are for debugging a staging network, not for audit: two weeks is enough. */
  flowLogRetention: logs.RetentionDays.TWO_WEEKS,
  /** Smallest Graviton instance: enough to forward a staging environment's egress. */
  natInstanceType: 't4g.nano',
  /** Public subnets are /24 below a /16 VPC (prefix + 8); private subnets are prefix + 3 (/19 below a /16). */
  publicSubnetPrefixOffset: 8,
  privateSubnetPrefixOffset: 3,
  /** The VPC prefix lengths the subnet layout fits in. */
  minVpcPrefix: 16,
  maxVpcPrefix: 20,
} as const;
