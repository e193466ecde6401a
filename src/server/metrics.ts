// GET /metrics: Prometheus text format (version 0.0.4): requests, prompt and generated tokens, the prompt
// cache's lookups, hits and the prompt tokens it saved, running and waiting requests, and the bytes
// parked in memory stores.
import type { Hono } from 'hono';
import type { RouteContext } from './chat.js';
import { MemoryStore } from './store.js';

export function registerMetrics(app: Hono, ctx: RouteContext): void {
  const { engine } = ctx;
  app.get('/metrics', (c) => {
    const lines: string[] = [];
    const metric = (name: string, type: 'counter' | 'gauge', help: string, value: number) => {
      lines.push(`# HELP bimamba_${name} ${help}`, `# TYPE bimamba_${name} ${type}`, `bimamba_${name} ${value}`);
    };
    const counters = engine.counters ?? { requests: 0, promptTokens: 0, generatedTokens: 0 };
    const cache = engine.promptCache?.stats ?? { lookups: 0, hits: 0, tokensSaved: 0, saved: 0 };
    metric('requests_total', 'counter', 'Completions and chat completions started.', counters.requests);
    metric('prompt_tokens_total', 'counter', 'Prompt tokens fed to the model (not those restored from the prompt cache).', counters.promptTokens);
    metric('generated_tokens_total', 'counter', 'Tokens generated.', counters.generatedTokens);
    metric('prompt_cache_lookups_total', 'counter', 'Requests that looked in the prompt cache.', cache.lookups);
    metric('prompt_cache_hits_total', 'counter', 'Requests that restored a state from the prompt cache.', cache.hits);
    metric('prompt_cache_tokens_saved_total', 'counter', 'Prompt tokens not fed thanks to the prompt cache.', cache.tokensSaved);
    metric('prompt_cache_entries_saved_total', 'counter', 'States saved into the prompt cache.', cache.saved);
    metric('requests_running', 'gauge', 'Requests holding a turn now.', engine.gate.runningCount);
    metric('requests_waiting', 'gauge', 'Requests waiting for a turn.', engine.gate.waitingCount);
    const sessions = engine.store instanceof MemoryStore ? engine.store.bytes : 0;
    const cached = engine.promptCache?.store instanceof MemoryStore && engine.promptCache.store !== engine.store ? engine.promptCache.store.bytes : 0;
    metric('parked_session_bytes', 'gauge', 'Bytes of parked sessions in a memory store.', sessions);
    metric('prompt_cache_bytes', 'gauge', 'Bytes of prompt-cache states in a memory store of their own.', cached);
    return c.body(lines.join('\n') + '\n', 200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' });
  });
}
