/**
 * Real HTTP(S) requests to the load balancer, with the route's Host header (and, over HTTPS, the
 * host as the TLS server name), as a browser would send them.
 */
import * as http from 'http';
import * as https from 'https';
import * as tls from 'tls';

/** Where requests for port 80 and 443 of the load balancer go. */
export interface LoadBalancerAddress {
  /** `host:port` that receives what would go to port 80 of the load balancer. */
  readonly http: { host: string; port: number };
  /** `host:port` that receives what would go to port 443 of the load balancer. */
  readonly https: { host: string; port: number };
  /** Certificate authorities to trust beside Node's (PEM); undefined: Node's only. */
  readonly ca?: string;
}

/** The load balancer itself: its DNS name on ports 80 and 443. */
export function loadBalancerAddress(dnsName: string): LoadBalancerAddress {
  return { http: { host: dnsName, port: 80 }, https: { host: dnsName, port: 443 } };
}

/**
 * FOR TESTS ONLY: `CDK_ECS_STAGING_VALIDATE_TEST_LB=<host>:<port>,<host>:<port>` sends the requests
 * meant for ports 80 and 443 of the load balancer to these addresses instead (the test suite's own
 * server on loopback: the emulator's load balancers have no address that answers). Everything else
 * about the requests (Host header, TLS server name, certificate checks) is unchanged.
 */
export const TEST_LOAD_BALANCER_VARIABLE = 'CDK_ECS_STAGING_VALIDATE_TEST_LB';

/** The test override of TEST_LOAD_BALANCER_VARIABLE, or undefined. */
export function testLoadBalancerAddress(value: string | undefined): LoadBalancerAddress | undefined {
  if (!value) return undefined;
  const [plain, secure] = value.split(',').map((a) => {
    const i = a.lastIndexOf(':');
    return { host: a.slice(0, i), port: Number(a.slice(i + 1)) };
  });
  return { http: plain, https: secure ?? plain };
}

/** The answer to one request. */
export interface HttpAnswer {
  readonly status: number;
  readonly location?: string;
}

/** Milliseconds a request may take. */
const TIMEOUT_MS = 8000;

/** GET `<scheme>://<host><path>` from the load balancer, without following redirects. */
export function get(address: LoadBalancerAddress, scheme: 'http' | 'https', host: string, path: string): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const target = scheme === 'https' ? address.https : address.http;
    const options: https.RequestOptions = {
      host: target.host,
      port: target.port,
      path,
      method: 'GET',
      headers: { 'Host': host, 'User-Agent': 'cdk-ecs-staging-validate' },
      timeout: TIMEOUT_MS,
      agent: false,
    };
    const request = scheme === 'https'
      ? https.request({ ...options, servername: host, ca: withNodeCas(address.ca) })
      : http.request(options);
    request.on('response', (response) => {
      response.resume();
      resolve({ status: response.statusCode ?? 0, location: response.headers.location });
    });
    request.on('timeout', () => request.destroy(new Error(`no answer within ${TIMEOUT_MS / 1000} s`)));
    request.on('error', reject);
    request.end();
  });
}

/**
 * The certificate the load balancer presents for `host` (TLS server name), checked against Node's
 * trust store and the host name; resolves to undefined when valid, else to what is wrong.
 */
export function certificateProblem(address: LoadBalancerAddress, host: string): Promise<string | undefined> {
  return new Promise((resolve) => {
    const socket = tls.connect({
      host: address.https.host,
      port: address.https.port,
      servername: host,
      ca: withNodeCas(address.ca),
      rejectUnauthorized: false,
      timeout: TIMEOUT_MS,
    });
    socket.on('secureConnect', () => {
      const cert = socket.getPeerCertificate();
      const mismatch = tls.checkServerIdentity(host, cert);
      const names = cert.subjectaltname ?? cert.subject?.CN ?? 'no names';
      socket.end();
      if (mismatch) {
        resolve(`the certificate for ${host} names ${names}`);
      } else if (!socket.authorized) {
        resolve(`the certificate for ${host} is not trusted (${String(socket.authorizationError)})`);
      } else {
        resolve(undefined);
      }
    });
    socket.on('timeout', () => socket.destroy(new Error(`no answer within ${TIMEOUT_MS / 1000} s`)));
    socket.on('error', (error) => resolve(`no TLS connection for ${host}: ${error.message}`));
  });
}

/** Node's certificate authorities plus `extra`: giving `ca` alone would replace them. */
function withNodeCas(extra: string | undefined): string[] | undefined {
  return extra ? [...tls.rootCertificates, extra] : undefined;
}
