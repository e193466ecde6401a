export function benchPrompt(n: number, vocab: number): number[];
