export function samplingAB(
  model: import('../dist/index.js').Model,
  options: { prompt: number[]; rounds: number; block: number; sampled: Record<string, number> },
): Promise<import('./sampling-ab.js').Result>;
