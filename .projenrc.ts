import * as fs from 'fs';
import * as path from 'path';
import { awscdk, Component, javascript, Project } from 'projen';
import * as YAML from 'yaml';

/** Versions that work together on aws-cdk-lib 2.257.0 (cloud-assembly schema 53); see CONTRIBUTING.md. */
const CDK_VERSION = '2.257.0';
const CONSTRUCTS_VERSION = '10.5.1';
const INTEG_TESTS_ALPHA = '2.245.0-alpha.0';
const INTEG_RUNNER = '2.197.10';
const CDK_CLI = '2.1148.1';

const REPO = 'https://github.com/cdk-ecs-staging/cdk-ecs-staging';

/** The AWS SDK for JavaScript v3 clients `cdk-ecs-staging validate` calls (src/cli/aws.ts). */
const VALIDATE_SDK_CLIENTS = [
  '@aws-sdk/client-cloudformation@^3.1169.0',
  '@aws-sdk/client-cloudwatch@^3.1164.0',
  '@aws-sdk/client-cloudwatch-logs@^3.1169.0',
  '@aws-sdk/client-ec2@^3.1169.0',
  '@aws-sdk/client-ecr@^3.1169.0',
  '@aws-sdk/client-ecs@^3.1164.0',
  '@aws-sdk/client-elastic-load-balancing-v2@^3.1142.0',
  '@aws-sdk/client-iam@^3.1169.0',
  '@aws-sdk/client-secrets-manager@^3.1164.0',
  '@aws-sdk/client-sns@^3.1169.0',
  '@aws-sdk/client-ssm@^3.1169.0',
];

const project = new awscdk.AwsCdkConstructLibrary({
  name: 'cdk-ecs-staging',
  description:
    'AWS CDK constructs for a staging environment on Amazon ECS Fargate: VPC, load balancer, Fargate services, config and secrets, alarms and a deploy pipeline.',
  // jsii-pacmak writes the Python author as name + '<email>' with no space between: the trailing space gives 'Name <email>'.
  author: 'cdk-ecs-staging contributors ',
  authorAddress: 'maintainers@cdk-ecs-staging.dev',
  repositoryUrl: `${REPO}.git`,
  homepage: `${REPO}#readme`,
  bugsUrl: `${REPO}/issues`,
  // 0.x: the API may still change. jsii maps it to 'Development Status :: 4 - Beta' on PyPI.
  stability: 'experimental',
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
    include: ['.projenrc.ts', 'src/**/*.ts', 'test/**/*.ts', 'integ/**/*.ts', 'examples/**/*.ts', 'bench/**/*.ts', 'cost/**/*.ts'],
    exclude: ['node_modules', '**/node_modules', '**/*.snapshot/**', 'cdk.out', '.ci', '.bench-build', 'lib', 'dist'],
    compilerOptions: {},
  },

  publishToPypi: {
    distName: 'cdk-ecs-staging',
    module: 'cdk_ecs_staging',
    // OIDC from the release workflow to PyPI, with attestations: no long-lived PyPI token.
    trustedPublishing: true,
    attestations: true,
  },
  // OIDC from the release workflow to npm, with a provenance statement: no long-lived npm token.
  npmTrustedPublishing: true,
  npmProvenance: true,
  // The build workflow fails on a changed file instead of pushing a fix back: no write token in CI.
  buildWorkflowOptions: { mutableBuild: false },

  // Renders the GitHub Actions workflow (GitHubActionsDeployRole.renderWorkflow): bundled, so users install nothing.
  bundledDeps: ['yaml@^2.8.0'],

  devDeps: [
    `@aws-cdk/integ-tests-alpha@${INTEG_TESTS_ALPHA}`,
    `@aws-cdk/integ-runner@${INTEG_RUNNER}`,
    `aws-cdk@${CDK_CLI}`,
    'cdk-nag@^3.0.2',
    '@types/node@^22',
    '@cdklabs/cdk-validator-cfnguard@0.0.62',
    // Type-checks the README's Python examples against the wheel (test:python).
    'pyright@1.1.414',
    // Property-based tests (test/properties.test.ts); exact pin so that a seed replays the same cases.
    'fast-check@4.10.2',
    // The aws stand-in of the script tests answers --query with JMESPath, as the AWS CLI does.
    'jmespath@0.16.0',
    '@types/jmespath@^0.15.2',
    // `cdk-ecs-staging validate` (src/cli/): the AWS SDK clients it calls, bundled by esbuild into lib/cli/validate.js,
    // so that the package has no runtime dependency beyond the library's (a jsii package must bundle what is not a jsii module).
    ...VALIDATE_SDK_CLIENTS,
    // The tests seed moto with certificates for the load balancer's HTTPS listener.
    '@aws-sdk/client-acm@^3.1169.0',
    'esbuild@0.28.2',
  ],

  // The command line: `npx cdk-ecs-staging validate <environment>` (README, "Validate a deployed environment").
  bin: { 'cdk-ecs-staging': 'lib/cli/validate.js' },
  // The command line is no part of the library's API: jsii leaves it out, esbuild bundles it (bundle:cli).
  excludeTypescript: ['src/cli/**'],

  eslintOptions: {
    tsconfigPath: './tsconfig.dev.json',
    // One project for every linted file: the dev tsconfig is not named tsconfig.json, so the project service would not find it.
    projectService: false,
    dirs: ['src'],
    devdirs: ['test', 'integ', 'examples', 'bench', 'cost'],
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

// Imports among the source files run one way (CONTRIBUTING.md, "Map of src/"): the environment imports
// the parts, the service imports what it is built with, and a part built around a service (delivery,
// alarms) reaches it through IStagingService (src/service-contract.ts), never through the class that
// imports it back. import/no-cycle fails any cycle that exists at run time; it skips type-only imports,
// so the layers below also forbid a type import that climbs back up.
project.eslint?.addRules({ 'import/no-cycle': ['error', { ignoreExternal: true }] });
const climbsBack = (files: string[], above: string[], why: string) => project.eslint?.addOverride({
  files,
  rules: { 'no-restricted-imports': ['error', { patterns: [{ group: above, message: why }] }] },
});
climbsBack(['src/private/**/*.ts'], ['../*', '!../schedule'],
  'src/private/ is below every public file (it may read the StagingSchedule value class): take what you need as a parameter.');
climbsBack(['src/networking.ts', 'src/edge.ts', 'src/secrets.ts', 'src/observability.ts', 'src/pipeline.ts', 'src/schedule.ts', 'src/service-contract.ts'],
  ['./service', './staging-environment'],
  'A part below the service reaches it through IStagingService (./service-contract), and never imports the environment.');
climbsBack(['src/service.ts'], ['./staging-environment'], 'The service is below the environment: take what it needs as a prop.');

// The validate command (src/cli/) imports the AWS SDK clients from devDependencies: esbuild bundles them into lib/cli/validate.js.
project.eslint?.addOverride({
  files: ['src/cli/**/*.ts'],
  rules: { 'import/no-extraneous-dependencies': ['error', { devDependencies: true, optionalDependencies: false, peerDependencies: true }] },
});

// PyPI trove classifiers beside those jsii-pacmak sets (projen's publishToPypi has no option for them).
project.package.file.addOverride('jsii.targets.python.classifiers', ['Framework :: AWS CDK', 'Framework :: AWS CDK :: 2']);

for (const p of ['/examples/', '/integ/', '/bench/', '/cost/', '/.ci/', '/rosetta/', '/scripts/', '/.venv*/', '/.tools/', '/cdk.out/', '/.bench-build/', '/.cfnlintrc.yaml']) {
  project.addPackageIgnore(p);
}

// `cdk-ecs-staging validate`: src/cli/validate.ts and the AWS SDK clients in one file, run by the package's bin. Node 20 is
// the oldest Node the package supports; minified, as the file ships in the npm tarball and, inside it, in the Python wheel.
const bundleCli = project.addTask('bundle:cli', {
  description: 'Bundle the validate command (src/cli/) with the AWS SDK into lib/cli/validate.js.',
  exec: 'esbuild src/cli/validate.ts --bundle --platform=node --target=node20 --minify --legal-comments=none --log-level=warning --outfile=lib/cli/validate.js',
});
project.compileTask.spawn(bundleCli);

// README code samples must compile against the fixture, strictly. The tablet (.jsii.tabl.json) holds their
// translations; it ships in the npm package, where the release workflow's package:python finds it.
project.postCompileTask.exec('jsii-rosetta extract --strict --fail');
// jsii-rosetta spells some names otherwise than the wheel (memoryLimitMiB: memory_limit_mi_b, the wheel's memory_limit_mib):
// the tablet's Python takes jsii-pacmak's names (scripts/python_names.py).
project.postCompileTask.exec('python3 scripts/python_names.py fix-tablet .jsii.tabl.json');
project.addPackageIgnore('!/.jsii.tabl.json');

// The Python API reference, beside API.md: regenerated by every build, so a stale one leaves the tree dirty.
const docgenPython = project.addTask('docgen:python', {
  description: 'Generate the Python API reference (API.python.md).',
  exec: 'jsii-docgen --language python --output API.python.md',
});
// jsii-docgen spells some names otherwise than the wheel, as jsii-rosetta does (scripts/python_names.py).
docgenPython.exec('python3 scripts/python_names.py fix-doc API.python.md');
project.postCompileTask.spawn(docgenPython);

/**
 * The PyPI page's links (setup.py project_urls), in order. jsii-pacmak writes only {"Source": <repository url>} and has no
 * option for more, so scripts/package_python.py runs it with --code-only, replaces project_urls in the generated setup.py
 * (failing if pacmak's setup.py no longer looks as expected) and builds the sdist and the wheel as pacmak's Python target does.
 */
const PYPI_PROJECT_URLS: Record<string, string> = {
  Source: REPO,
  Documentation: `${REPO}/blob/main/API.python.md`,
  Issues: `${REPO}/issues`,
  Changelog: `${REPO}/releases`,
};

// The wheel's docstrings and description take the tablet's Python; a snippet missing from it fails the package.
project.tasks.tryFind('package:python')!.reset([
  'python3 scripts/package_python.py --outdir dist/python',
  ...Object.entries(PYPI_PROJECT_URLS).map(([name, url]) => `--project-url ${name}=${url}`),
  '-- jsii-pacmak -v --target python --rosetta-tablet .jsii.tabl.json --rosetta-unknown-snippets fail',
].join(' '));

// Public API breaks fail the build: jsii-diff against the committed baseline in compat/.baseline (its .jsii, and a package.json
// that lets jsii-diff resolve aws-cdk-lib and constructs). The folder is hidden because jsii-docgen looks for assemblies in every
// folder that is not: it would find the baseline under the same name and document it instead of the build.
// `--error-on all`: the package is experimental (0.x), and jsii-diff would otherwise report experimental breaks only as warnings.
const apiCompat = project.addTask('api:compat', {
  description: 'Fail on a breaking change of the public API against the baseline in compat/ (jsii-diff).',
  exec: 'jsii-diff compat/.baseline . --error-on all --keys --ignore-file compat/.compatignore',
});
project.postCompileTask.spawn(apiCompat);
project.addTask('api:baseline', {
  description: 'Accept the current public API as the new baseline (after a release, or a break decided on purpose).',
  exec: 'cp .jsii compat/.baseline/.jsii',
});
project.addPackageIgnore('/compat/');
project.gitignore.addPatterns('!/compat/.baseline/.jsii');

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

project.addTask('bench:validate', {
  description: 'Benchmark: `cdk-ecs-staging validate` of a 10-service environment against moto (issue: under 15 s).',
  env: tsNodeEnv,
  exec: 'ts-node bench/validate.ts',
  receiveArgs: true,
});

project.addTask('cost', {
  description: "Monthly cost estimate of the example profiles, read from their synthesized templates; '--write' regenerates the README's cost section.",
  env: tsNodeEnv,
  exec: 'ts-node cost/run.ts',
  receiveArgs: true,
});

project.addTask('test:python', {
  description: 'Python checks of the wheel in dist/python, from a fresh venv: examples/python/app.py against the TypeScript example, '
    + 'the description and docstrings (Python, no TypeScript), the Project-URL lines, every documented name against the installed '
    + 'wheel, the README\'s Python section run from Python, the README\'s Python examples and the PyPI page\'s fragments under pyright.',
  exec: 'bash test/python/smoke.sh',
});

project.addTask('test:cdk-versions', {
  description: 'Unit tests and the Python app against the newest aws-cdk-lib on the registry (a temporary copy of the checkout).',
  exec: 'bash test/compat/cdk-versions.sh',
  receiveArgs: true,
});

/**
 * Actions pinned to a commit (the tag in the comment of each line below), found with
 * `git rev-list -n1 <tag>` in a clone of the action's repository. Update them together with projen.
 */
const PINNED_ACTIONS: Record<string, string> = {
  'actions/setup-node': 'actions/setup-node@820762786026740c76f36085b0efc47a31fe5020', // v7.0.0
  'actions/setup-python': 'actions/setup-python@5fda3b95a4ea91299a34e894583c3862153e4b97', // v7.0.0
  'peter-evans/create-pull-request': 'peter-evans/create-pull-request@5f6978faf089d4d20b00c7766989d076bb2fc7f1', // v8.1.1
};
for (const [action, pinned] of Object.entries(PINNED_ACTIONS)) {
  project.github!.actions.set(action, pinned);
}

/**
 * Hardens the workflows projen writes: the build job reads the repository only, no checkout keeps the token in
 * .git/config (zizmor's artipacked), and the pull-request title check runs on `pull_request`, with the PR's read-only token, instead of
 * `pull_request_target` (zizmor's dangerous-triggers). The checkouts are patched in the written files: some
 * of projen's jobs only receive their final steps while the file is rendered.
 */
class WorkflowHardening extends Component {
  constructor(scope: Project) {
    super(scope);
  }

  public preSynthesize(): void {
    // The build job no longer pushes (mutableBuild: false): reading the repository is all it needs.
    project.github!.tryFindWorkflow('build')?.file!.addOverride('jobs.build.permissions.contents', 'read');
    const prLint = project.github!.tryFindWorkflow('pull-request-lint');
    if (prLint) {
      prLint.file!.addOverride('on.pull_request', { types: ['labeled', 'opened', 'synchronize', 'reopened', 'ready_for_review', 'edited'] });
      prLint.file!.addDeletionOverride('on.pull_request_target');
    }
  }

  public postSynthesize(): void {
    for (const workflow of project.github!.workflows) {
      const file = path.join(project.outdir, workflow.file!.path);
      const doc = YAML.parseDocument(fs.readFileSync(file, 'utf8'));
      const jobs = doc.get('jobs') as YAML.YAMLMap<YAML.Scalar<string>, YAML.YAMLMap>;
      for (const job of jobs.items) {
        const steps = job.value?.get('steps') as YAML.YAMLSeq<YAML.YAMLMap> | undefined;
        for (const step of steps?.items ?? []) {
          if (String(step.get('uses') ?? '').startsWith('actions/checkout@')) {
            step.setIn(['with', 'persist-credentials'], false);
          }
        }
      }
      const mode = fs.statSync(file).mode;
      fs.chmodSync(file, 0o644);
      fs.writeFileSync(file, doc.toString({ lineWidth: 0 }));
      fs.chmodSync(file, mode);
    }
  }
}
new WorkflowHardening(project);

project.synth();
