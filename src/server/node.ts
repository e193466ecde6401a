// Serving the app from Node's HTTP server (Deno, Bun and Workers hand `app.fetch` requests themselves).
import { serve } from '@hono/node-server';
import type { Hono } from 'hono';

export interface Listening {
  port: number;
  close(): Promise<void>;
}

export function listen(app: Hono, port: number, hostname: string): Promise<Listening> {
  return new Promise((resolve, reject) => {
    const server = serve({ fetch: app.fetch, port, hostname }, (info) => {
      resolve({ port: info.port, close: () => new Promise<void>((r) => server.close(() => r())) });
    });
    server.once('error', reject);
  });
}
