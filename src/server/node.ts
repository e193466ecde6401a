// Serving the app from Node's HTTP server (Deno, Bun and Workers hand `app.fetch` requests themselves).
// Node knows each connection's address, so here a client address gets at most `maxConnectionsPerClient`
// open connections (more are closed at once), and a connection that sends nothing for `idleTimeout`
// is closed (Node's own header and request timeouts bound a client that sends slowly).
import { serve } from '@hono/node-server';
import type { Hono } from 'hono';
import type { Server } from 'node:http';
import type { Socket } from 'node:net';

export interface Listening {
  port: number;
  /** Stop accepting, close idle connections, and wait for the open ones to end. */
  close(): Promise<void>;
  /** Connections open now. */
  connections(): number;
  /** End every connection at once. */
  closeAll(): void;
}

export interface ListenOptions {
  /** Open connections one client address may hold (default 32). */
  maxConnectionsPerClient?: number;
  /** Milliseconds to receive a request's headers (default 10 s) and its whole body (default 60 s). */
  headersTimeoutMs?: number;
  requestTimeoutMs?: number;
}

export function listen(app: Hono, port: number, hostname: string, options: ListenOptions = {}): Promise<Listening> {
  const perClient = options.maxConnectionsPerClient ?? 32;
  const open = new Map<string, number>();
  const sockets = new Set<Socket>();
  return new Promise((resolve, reject) => {
    const server = serve({ fetch: app.fetch, port, hostname }, (info) => {
      resolve({
        port: info.port,
        close: () => new Promise<void>((r) => {
          server.close(() => r());
          (server as Server).closeIdleConnections?.();
        }),
        connections: () => sockets.size,
        closeAll: () => (server as Server).closeAllConnections?.(),
      });
    }) as Server;
    server.headersTimeout = options.headersTimeoutMs ?? 10_000;
    server.requestTimeout = options.requestTimeoutMs ?? 60_000;
    server.on('connection', (socket: Socket) => {
      const address = socket.remoteAddress ?? '';
      const n = (open.get(address) ?? 0) + 1;
      if (n > perClient) {
        socket.destroy();
        return;
      }
      open.set(address, n);
      sockets.add(socket);
      socket.once('close', () => {
        sockets.delete(socket);
        const left = (open.get(address) ?? 1) - 1;
        if (left === 0) open.delete(address);
        else open.set(address, left);
      });
    });
    server.once('error', reject);
  });
}
