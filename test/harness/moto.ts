/**
 * moto's server (PyPI `moto[server]`, pinned in MOTO_VERSION): a real AWS API emulator over HTTP,
 * started by the tests on a loopback port and reached through the SDK's endpoint setting
 * (`AWS_ENDPOINT_URL`, or a client's `endpoint`) with static fake credentials. The venv is created
 * once by the jest global setup (`global-setup.ts`).
 */
import { ChildProcess, spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as net from 'net';
import * as path from 'path';
import { installPipTool } from './pip';

export const MOTO_VERSION = '5.2.5';
const REPO_ROOT = path.resolve(__dirname, '..', '..');
export const MOTO_VENV = path.join(REPO_ROOT, '.venv-moto');
const MOTO_SERVER = path.join(MOTO_VENV, 'bin', 'moto_server');

/** The region and fake credentials every test run uses against moto. */
export const MOTO_REGION = 'eu-west-1';
export const MOTO_ACCOUNT = '123456789012';
export const FAKE_CREDENTIALS = { accessKeyId: 'AKIAFAKEFAKEFAKEFAKE', secretAccessKey: 'fake-secret-for-the-emulator' };

/** Creates the moto venv unless it already holds the pinned version. */
export function ensureMoto(): void {
  const python = path.join(MOTO_VENV, 'bin', 'python');
  const version = fs.existsSync(python)
    ? spawnSync(python, ['-c', 'import moto; print(moto.__version__)'], { encoding: 'utf8' }).stdout.trim()
    : '';
  if (version === MOTO_VERSION && fs.existsSync(MOTO_SERVER)) {
    return;
  }
  installPipTool(MOTO_VENV, `moto[server]==${MOTO_VERSION}`);
}

/** A free TCP port on loopback. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as net.AddressInfo).port;
      server.close(() => resolve(port));
    });
  });
}

/** A running moto server. */
export interface Moto {
  readonly endpoint: string;
  stop(): Promise<void>;
}

/**
 * Starts `moto_server -H 127.0.0.1 -p <port>` and waits until it answers. `MOTO_ECS_SERVICE_RUNNING`
 * is the running count moto gives every new ECS service (moto has no tasks of its own: a service
 * created with that desired count is stable; see moto/ecs/models.py).
 */
export async function startMoto(runningTasksPerService = 2): Promise<Moto> {
  ensureMoto();
  const port = await freePort();
  const child: ChildProcess = spawn(MOTO_SERVER, ['-H', '127.0.0.1', '-p', String(port)], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, MOTO_ECS_SERVICE_RUNNING: String(runningTasksPerService) },
  });
  let stderr = '';
  child.stderr!.on('data', (d) => { stderr = (stderr + d).slice(-4000); });
  const endpoint = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`moto_server exited with ${child.exitCode}: ${stderr}`);
    try {
      const answer = await fetch(`${endpoint}/moto-api/`);
      if (answer.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill();
      throw new Error(`moto_server did not answer on ${endpoint} within 60 s: ${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    endpoint,
    stop: () => new Promise<void>((resolve) => {
      if (child.exitCode !== null) return resolve();
      child.on('exit', () => resolve());
      child.kill();
    }),
  };
}
