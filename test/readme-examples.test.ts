import * as fs from 'fs';
import * as path from 'path';
import { Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import { EcsStagingEnvironment, StagingServiceOptions } from '../src';
import { TEST_ENV, testApp } from './harness/apps';

/**
 * Every service a README example adds must turn healthy with the image it runs: the port the image
 * listens on, the user it runs as, the paths it writes and a health path it answers 200 on, each
 * read from the image's own documentation. An example with an image this table does not know fails
 * here until its facts are written down.
 */
interface ImageFacts {
  /** Port the image listens on, or undefined when it listens on the port it is given. */
  readonly port?: number;
  /** User the image runs as when none is given. */
  readonly user: string;
  /** Paths it answers 2XX on: '*' for any. */
  readonly answers: string[];
  /** Directories it writes to at run time. */
  readonly writes: string[];
  /** Where these facts come from. */
  readonly source: string;
}

const PLACEHOLDER = 'ghcr.io/static-web-server/static-web-server:2.44.0-alpine';

const IMAGES: Record<string, ImageFacts> = {
  [PLACEHOLDER]: {
    user: '1000',
    answers: ['*'],
    writes: [],
    source: 'github.com/static-web-server/static-web-server v2.44.0: docker/alpine/Dockerfile (USER sws, uid 1000), SERVER_PORT, maintenance mode answers every path',
  },
  'public.ecr.aws/nginx/nginx-unprivileged:1.30-alpine': {
    port: 8080,
    user: '101',
    answers: ['/'],
    writes: ['/tmp'],
    source: 'github.com/nginx/docker-nginx-unprivileged README: listens on 8080, runs as UID 101, pid and temporary files under /tmp; the default site answers 200 on / only',
  },
};

const README = fs.readFileSync(path.join(__dirname, '..', 'README.md'), 'utf8');

interface ExampleService {
  readonly block: number;
  readonly name: string;
  readonly options: StagingServiceOptions;
  readonly image: string;
}

/** The services the README's TypeScript examples add, with the options this test can read from their literals. */
function exampleServices(): ExampleService[] {
  const blocks = [...README.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]);
  const services: ExampleService[] = [];
  blocks.forEach((code, block) => {
    for (const call of code.matchAll(/addService\('([a-z0-9-]+)'(?:, \{)?/g)) {
      const body = call[0].endsWith('{') ? objectLiteral(code, call.index! + call[0].length - 1) : '';
      const image = /ContainerImage\.fromRegistry\('([^']+)'\)/.exec(body)?.[1];
      const number = (prop: string) => { const m = new RegExp(`\\b${prop}: (\\d+)`).exec(body); return m ? Number(m[1]) : undefined; };
      const text = (prop: string) => new RegExp(`\\b${prop}: '([^']*)'`).exec(body)?.[1];
      const bool = (prop: string) => { const m = new RegExp(`\\b${prop}: (true|false)`).exec(body); return m ? m[1] === 'true' : undefined; };
      services.push({
        block,
        name: call[1],
        image: image ?? PLACEHOLDER,
        options: {
          image: image ? ecs.ContainerImage.fromRegistry(image) : undefined,
          containerPort: number('containerPort'),
          healthCheckPath: text('healthCheckPath'),
          user: text('user'),
          readonlyRootFilesystem: bool('readonlyRootFilesystem'),
        },
      });
    }
  });
  return services;
}

/** The text of the object literal that opens at `start`, braces balanced. */
function objectLiteral(code: string, start: number): string {
  let depth = 0;
  for (let i = start; i < code.length; i++) {
    if (code[i] === '{') depth++;
    if (code[i] === '}' && --depth === 0) return code.slice(start, i + 1);
  }
  throw new Error(`unbalanced object literal at ${start}`);
}

describe('the README\'s examples', () => {
  const services = exampleServices();

  test('add services (the parser finds them)', () => {
    expect(services.length).toBeGreaterThanOrEqual(10);
    expect(services.some((s) => s.image !== PLACEHOLDER)).toBe(true);
  });

  test.each(exampleServices().map((s) => [`${s.name} (block ${s.block + 1}, ${s.image})`, s] as const))('%s turns healthy with its image', (_, example) => {
    const facts = IMAGES[example.image];
    expect({ image: example.image, documented: facts !== undefined }).toEqual({ image: example.image, documented: true });
    const stack = new Stack(testApp(), 'Readme', { env: TEST_ENV });
    const web = new EcsStagingEnvironment(stack, 'Staging').addService(example.name, example.options);
    const [taskDefinition] = Object.values(Template.fromStack(Stack.of(web)).findResources('AWS::ECS::TaskDefinition'));
    const containers: any[] = taskDefinition.Properties.ContainerDefinitions;
    const app = containers.find((c) => c.Name === 'app');
    const [targetGroup] = Object.values(Template.fromStack(Stack.of(web)).findResources('AWS::ElasticLoadBalancingV2::TargetGroup'));

    // The port the image listens on is the one the container maps and the load balancer probes.
    const port = app.PortMappings[0].ContainerPort;
    if (facts.port !== undefined) expect(port).toBe(facts.port);
    expect(targetGroup.Properties.Port).toBe(port);
    // The health path answers 2XX.
    const healthPath = targetGroup.Properties.HealthCheckPath;
    expect({ healthPath, answered: facts.answers.includes('*') || facts.answers.includes(healthPath) }).toEqual({ healthPath, answered: true });
    // The user it runs as may bind the port.
    const user = (app.User ?? facts.user).split(':')[0];
    if (user !== '0' && user !== 'root' && port < 1024) {
      expect(app.SystemControls).toEqual([{ Namespace: 'net.ipv4.ip_unprivileged_port_start', Value: String(port) }]);
    }
    // Every path it writes is writable for that user.
    if (app.ReadonlyRootFilesystem) {
      for (const dir of facts.writes) {
        const mounted = (app.MountPoints ?? []).some((m: any) => m.ContainerPath === dir && m.ReadOnly === false);
        expect({ dir, mounted }).toEqual({ dir, mounted: true });
        if (user !== '0' && user !== 'root') {
          const opener = containers.find((c) => c.Name === 'writable-paths');
          expect(opener?.EntryPoint).toEqual(expect.arrayContaining(['chmod', '1777', dir]));
          expect(app.DependsOn).toEqual([{ ContainerName: 'writable-paths', Condition: 'SUCCESS' }]);
        }
      }
    }
  });
});
