/**
 * The tests' own stand-in for a load balancer's address, on loopback: the emulator's load balancers
 * have no address that answers. An HTTP server (port 80's part: the redirect to HTTPS) and an HTTPS
 * server (port 443's part: the certificate chosen by TLS server name, and the services' answers),
 * with certificates signed by a throwaway CA made with openssl.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as http from 'http';
import * as https from 'https';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import * as tls from 'tls';

/** What one environment's load balancer does. */
export interface Site {
  /** The environment's domain; undefined: HTTP only, answered for any host. */
  readonly domain?: string;
  /** The names the certificate holds. @default [domain, *.domain] */
  readonly certificateNames?: string[];
  /** Port 80 redirects to HTTPS. @default true with a domain */
  readonly redirect?: boolean;
  /** The status of GET host+path. @default 200 */
  readonly status?: (host: string, path: string) => number;
}

/** A running stand-in: its two addresses and the CA to trust. */
export interface LoadBalancerServer {
  readonly http: { host: string; port: number };
  readonly https: { host: string; port: number };
  readonly ca: string;
  readonly caFile: string;
  /** Requests seen, as `<scheme> <host><path>`. */
  readonly requests: string[];
  /** Serves a site (by domain; the one without a domain answers any other host). */
  addSite(site: Site): void;
  stop(): Promise<void>;
}

function openssl(args: string[], cwd: string): void {
  const result = spawnSync('openssl', args, { cwd, encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`openssl ${args.join(' ')} failed: ${result.stderr}`);
}

const EC_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

export async function startLoadBalancerServer(): Promise<LoadBalancerServer> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'validate-lb-'));
  openssl(['req', '-x509', ...EC_KEY, '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2', '-subj', '/CN=cdk-ecs-staging test CA'], dir);
  const ca = fs.readFileSync(path.join(dir, 'ca.crt'), 'utf8');
  let serial = 0;
  const certificate = (names: string[]): tls.SecureContext => {
    const n = ++serial;
    fs.writeFileSync(path.join(dir, `${n}.ext`), `subjectAltName=${names.map((x) => `DNS:${x}`).join(',')}\n`);
    openssl(['req', ...EC_KEY, '-keyout', `${n}.key`, '-out', `${n}.csr`, '-subj', `/CN=${names[0]}`], dir);
    openssl(['x509', '-req', '-in', `${n}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-set_serial', String(1000 + n), '-out', `${n}.crt`, '-days', '2', '-extfile', `${n}.ext`], dir);
    return tls.createSecureContext({ key: fs.readFileSync(path.join(dir, `${n}.key`)), cert: fs.readFileSync(path.join(dir, `${n}.crt`)) });
  };
  const sites: Array<{ site: Site; context?: tls.SecureContext }> = [];
  const siteOf = (host: string) => {
    const h = host.toLowerCase().replace(/:\d+$/, '');
    return sites.find((s) => s.site.domain && (h === s.site.domain || h.endsWith(`.${s.site.domain}`))) ?? sites.find((s) => !s.site.domain);
  };
  const requests: string[] = [];
  const answer = (scheme: string) => (req: http.IncomingMessage, res: http.ServerResponse) => {
    const host = req.headers.host ?? '';
    requests.push(`${scheme} ${host}${req.url}`);
    const found = siteOf(host);
    if (!found) { res.writeHead(404).end(); return; }
    if (scheme === 'http' && found.site.domain && (found.site.redirect ?? true)) {
      res.writeHead(301, { Location: `https://${host}${req.url}` }).end();
      return;
    }
    res.writeHead(found.site.status?.(host, req.url ?? '/') ?? 200, { 'Content-Type': 'text/plain' }).end('ok');
  };
  const fallback = certificate(['unknown.invalid']);
  const plain = http.createServer(answer('http'));
  const secure = https.createServer({
    SNICallback: (servername, cb) => cb(null, siteOf(servername)?.context ?? fallback),
  }, answer('https'));
  const listen = (server: net.Server) => new Promise<number>((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as net.AddressInfo).port)));
  const [httpPort, httpsPort] = await Promise.all([listen(plain), listen(secure)]);
  const caFile = path.join(dir, 'ca.crt');
  return {
    http: { host: '127.0.0.1', port: httpPort },
    https: { host: '127.0.0.1', port: httpsPort },
    ca,
    caFile,
    requests,
    addSite: (site) => {
      const context = site.domain ? certificate(site.certificateNames ?? [site.domain, `*.${site.domain}`]) : undefined;
      sites.push({ site, context });
    },
    stop: async () => {
      plain.closeAllConnections();
      secure.closeAllConnections();
      await Promise.all([new Promise((r) => plain.close(r)), new Promise((r) => secure.close(r))]);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
