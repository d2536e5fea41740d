/**
 * `npx projen synth:example`: synthesizes the example app into cdk.out/ (or the directory given
 * as the first argument) and prints what it made: stacks, resources by type and NAT count.
 */
import * as fs from 'fs';
import { buildExampleApp } from './app';

const outdir = process.argv[2] ?? 'cdk.out';
const assembly = buildExampleApp(outdir).synth();

for (const stack of assembly.stacksRecursively) {
  const resources: Record<string, { Type: string }> = JSON.parse(fs.readFileSync(stack.templateFullPath, 'utf8')).Resources ?? {};
  const byType = new Map<string, number>();
  for (const { Type } of Object.values(resources)) {
    byType.set(Type, (byType.get(Type) ?? 0) + 1);
  }
  const natGateways = byType.get('AWS::EC2::NatGateway') ?? 0;
  const natInstances = Object.entries(resources).filter(([id, r]) => r.Type === 'AWS::EC2::Instance' && id.includes('NatInstance')).length;

  console.log(`Stack ${stack.stackName}: ${Object.keys(resources).length} resources -> ${stack.templateFullPath}`);
  for (const [type, count] of [...byType.entries()].sort(([a], [b]) => a.localeCompare(b))) {
    console.log(`  ${String(count).padStart(3)}  ${type}`);
  }
  console.log(`  NAT: ${natGateways} gateway(s), ${natInstances} instance(s)`);
}
console.log(`${assembly.stacksRecursively.length} stack(s) synthesized into ${assembly.directory}`);
