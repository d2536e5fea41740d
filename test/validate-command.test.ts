/**
 * How `cdk-ecs-staging validate` ships: the environment's stack output with the exact command, the
 * package's bin, and the command kept out of the library's API.
 */
import * as fs from 'fs';
import * as path from 'path';
import { Template } from 'aws-cdk-lib/assertions';
import { EcsStagingEnvironment } from '../src';
import { testStack } from './harness/apps';

const ROOT = path.resolve(__dirname, '..');

describe('the environment\'s stack output', () => {
  test('gives the exact command for the environment, with its region', () => {
    const stack = testStack('Command');
    new EcsStagingEnvironment(stack, 'Staging', { environmentName: 'qa' });
    const outputs = Template.fromStack(stack).findOutputs('*', { Description: 'Checks the deployed qa environment (read-only AWS calls)' });
    expect(Object.values(outputs).map((o) => o.Value)).toEqual(['npx cdk-ecs-staging validate qa --region us-east-1']);
  });

  test('is left out with emitOutputs: false', () => {
    const stack = testStack('NoOutputs');
    new EcsStagingEnvironment(stack, 'Staging', { emitOutputs: false });
    expect(Template.fromStack(stack).findOutputs('*')).toEqual({});
  });
});

describe('the package', () => {
  const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
  const tasks = JSON.parse(fs.readFileSync(path.join(ROOT, '.projen', 'tasks.json'), 'utf8')).tasks;

  test('its bin runs the bundle that the compile task writes', () => {
    expect(pkg.bin).toEqual({ 'cdk-ecs-staging': 'lib/cli/validate.js' });
    expect(tasks.compile.steps).toContainEqual({ spawn: 'bundle:cli' });
    expect(tasks['bundle:cli'].steps[0].exec).toContain('src/cli/validate.ts --bundle --platform=node');
    expect(tasks['bundle:cli'].steps[0].exec).toContain('--outfile=lib/cli/validate.js');
    expect(fs.readFileSync(path.join(ROOT, 'src', 'cli', 'validate.ts'), 'utf8').startsWith('#!/usr/bin/env node\n')).toBe(true);
  });

  test('the AWS SDK is bundled, not a dependency of the package (a jsii package bundles what is not a jsii module)', () => {
    const runtime = Object.keys({ ...pkg.dependencies, ...pkg.peerDependencies });
    expect(runtime.filter((d) => d.startsWith('@aws-sdk/'))).toEqual([]);
    expect(Object.keys(pkg.devDependencies).filter((d) => d.startsWith('@aws-sdk/client-')).length).toBeGreaterThanOrEqual(11);
  });

  test('the command is no part of the library\'s API: index.ts does not export it, jsii does not compile it', () => {
    expect(fs.readFileSync(path.join(ROOT, 'src', 'index.ts'), 'utf8')).not.toMatch(/cli/);
    // jsii compiles what the generated tsconfig.json includes (projen's excludeTypescript).
    const tsconfig = JSON.parse(fs.readFileSync(path.join(ROOT, 'tsconfig.json'), 'utf8'));
    expect(tsconfig.exclude).toContain('src/cli/**');
  });
});
