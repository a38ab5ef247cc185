import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../logger';

export interface ListenerResponse {
  status: number;
  contentType: string;
  body: string;
}

/** GET path → answer. Anything else is 404 (405 for another method on a known path). */
export type ListenerRoutes = Record<string, () => Promise<ListenerResponse>>;

export interface MetricsListener {
  readonly address: AddressInfo;
  close(): Promise<void>;
}

/**
 * The unauthenticated listener for Prometheus (METRICS_PORT, METRICS_HOST): a bare node:http
 * server apart from the API's port, so that no token is needed and nothing else is served.
 * It binds to METRICS_HOST, loopback unless the operator says otherwise.
 */
export async function startMetricsListener(
  options: { port: number; host: string },
  routes: ListenerRoutes,
  log: Logger,
  component: string,
): Promise<MetricsListener> {
  const server: Server = createServer((req: IncomingMessage, res) => {
    const path = new URL(req.url ?? '/', 'http://metrics').pathname;
    const route = Object.hasOwn(routes, path) ? routes[path] : undefined;
    const reply = (r: ListenerResponse) => {
      res.writeHead(r.status, { 'content-type': r.contentType, 'cache-control': 'no-store' });
      res.end(r.body);
    };
    if (!route) return reply({ status: 404, contentType: 'text/plain', body: 'not found\n' });
    if (req.method !== 'GET' && req.method !== 'HEAD')
      return reply({ status: 405, contentType: 'text/plain', body: 'method not allowed\n' });
    route().then(reply, (err: Error) => {
      log.warn('metrics listener could not answer', { event: 'metrics.failed', path, error: err.message });
      reply({ status: 500, contentType: 'text/plain', body: 'error\n' });
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  log.info('metrics listening', { event: 'metrics.listening', component, host: address.address, port: address.port });
  return {
    address,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
