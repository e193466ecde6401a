// The known name closest to a mistyped one, for "unknown option" messages: `max_tokens` -> `maxTokens`.

/** Edit distance (insertions, deletions, substitutions) between two short strings. */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min(previous[j] + 1, row[j - 1] + 1, previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = row;
  }
  return previous[b.length];
}

/** Case, `_` and `-` aside: `top_p`, `TopP` and `topP` are one name. */
const fold = (name: string) => name.toLowerCase().replace(/[-_]/g, '');

/** The name in `known` nearest to `name` (case and separators ignored first, then by edit distance). */
export function nearestName(name: string, known: readonly string[]): string {
  const folded = fold(name.slice(0, 100)); // a hostile key may be long: its first 100 characters are enough
  let best = known[0];
  let bestDistance = Infinity;
  for (const candidate of known) {
    const d = editDistance(folded, fold(candidate));
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return best;
}
