import { awscdk, javascript } from 'projen';

/** Versions that work together on aws-cdk-lib 2.257.0 (cloud-assembly schema 53); see CONTRIBUTING notes in README. */
const CDK_VERSION = '2.257.0';
const CONSTRUCTS_VERSION = '10.5.1';
const INTEG_TESTS_ALPHA = '2.245.0-alpha.0';
const INTEG_RUNNER = '2.197.10';
const CDK_CLI = '2.1148.1';

const project = new awscdk.AwsCdkConstructLibrary({
  name: 'cdk-ecs-staging',
  description:
    'A production-like staging environment on Amazon ECS Fargate in one construct: network, edge, services, config and secrets, observability and delivery, safe and cheap by default.',
  author: 'cdk-ecs-staging contributors',
  authorAddress: 'maintainers@cdk-ecs-staging.dev',
  repositoryUrl: 'https://github.com/cdk-ecs-staging/cdk-ecs-staging.git',
  license: 'Apache-2.0',
  keywords: ['aws', 'aws-cdk', 'cdk', 'ecs', 'fargate', 'staging', 'alb', 'vpc'],
  defaultReleaseBranch: 'main',
  packageManager: javascript.NodePackageManager.NPM,
  projenrcTs: true,

  cdkVersion: CDK_VERSION,
  constructsVersion: CONSTRUCTS_VERSION,
  jsiiVersion: '~6.0.0',

  // The development tsconfig lives at the top level and type-checks src, test, integ, examples and bench.
  tsconfigDevFile: 'tsconfig.dev.json',
  tsconfigDev: {
    include: ['.projenrc.ts', 'src/**/*.ts', 'test/**/*.ts', 'integ/**/*.ts', 'examples/**/*.ts', 'bench/**/*.ts'],
    exclude: ['node_modules', '**/node_modules', '**/*.snapshot/**', 'cdk.out', '.ci', '.bench-build', 'lib', 'dist'],
    compilerOptions: {},
  },

  publishToPypi: {
    distName: 'cdk-ecs-staging',
    module: 'cdk_ecs_staging',
  },

  // Renders the GitHub Actions workflow (GitHubActionsDeployRole.renderWorkflow): bundled, so users install nothing.
  bundledDeps: ['yaml@^2.8.0'],

  devDeps: [
    `@aws-cdk/integ-tests-alpha@${INTEG_TESTS_ALPHA}`,
    `@aws-cdk/integ-runner@${INTEG_RUNNER}`,
    `aws-cdk@${CDK_CLI}`,
    'cdk-nag@^3.0.2',
    '@types/node@^22',
    '@cdklabs/cdk-validator-cfnguard@0.0.62',
    // Property-based tests (test/properties.test.ts); exact pin so that a seed replays the same cases.
    'fast-check@4.10.2',
  ],

  eslintOptions: {
    tsconfigPath: './tsconfig.dev.json',
    // One project for every linted file: the dev tsconfig is not named tsconfig.json, so the project service would not find it.
    projectService: false,
    dirs: ['src'],
    devdirs: ['test', 'integ', 'examples', 'bench'],
  },

  jestOptions: {
    jestConfig: {
      testMatch: ['<rootDir>/test/**/*.test.ts'],
      testTimeout: 180_000,
      globalSetup: '<rootDir>/test/harness/global-setup.ts',
    },
    updateSnapshot: javascript.UpdateSnapshot.NEVER,
  },

  gitignore: ['/.jsii.tabl.json', '/cdk.out/', '/.venv*/', '/.tools/', '/.ci/node/', '/.bench-build/', 'cdk-integ.out.*', '/integ/**/cdk.out/', '/test-output/'],
  sampleCode: false,
});

for (const p of ['/examples/', '/integ/', '/bench/', '/.ci/', '/rosetta/', '/.venv*/', '/.tools/', '/cdk.out/', '/.bench-build/', '/.cfnlintrc.yaml']) {
  project.addPackageIgnore(p);
}

// README code samples must compile against the fixture, strictly.
project.postCompileTask.exec('jsii-rosetta extract --strict --fail');

// TS_NODE_PROJECT lets ts-node (integ-runner, examples, bench) see the dev tsconfig, not jsii's src-only one.
const tsNodeEnv = { TS_NODE_PROJECT: 'tsconfig.dev.json' };

const integ = project.addTask('integ', {
  description: 'Verify the integ snapshots under integ/ (no AWS credentials, nothing deployed).',
  env: tsNodeEnv,
  exec: 'integ-runner --directory integ --language typescript --parallel-regions us-east-1',
  receiveArgs: true,
});
project.addTask('integ:update', {
  description: 'Re-synthesize the integ snapshots that changed (dry run: nothing deployed).',
  env: tsNodeEnv,
  exec: 'integ-runner --directory integ --language typescript --parallel-regions us-east-1 --update-on-failed --dry-run',
  receiveArgs: true,
});
project.testTask.spawn(integ);

project.addTask('synth:example', {
  description: 'Synthesize the example app (examples/app.ts) into cdk.out/ and print a summary.',
  env: tsNodeEnv,
  exec: 'ts-node examples/synth.ts',
  receiveArgs: true,
});

project.addTask('bench', {
  description: 'Benchmark: the example app synth against aws-ecs-patterns ApplicationLoadBalancedFargateService.',
  steps: [
    { exec: 'tsc -p bench/tsconfig.json' },
    { exec: 'node .bench-build/bench/run.js', receiveArgs: true },
  ],
});

project.addTask('test:python', {
  description: 'Python smoke test: install the wheel from dist/python into a fresh venv and compare examples/python/app.py with the TypeScript example.',
  exec: 'bash test/python/smoke.sh',
});

project.synth();
