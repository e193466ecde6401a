// A short, safe rendering of a value from an untrusted file for an error message: never more than
// `max` characters, and never a stack overflow on deeply nested input (JSON.stringify recurses).

export function preview(value: unknown, max = 60): string {
  let text: string;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    text = Array.isArray(value) ? 'an array' : typeof value === 'object' ? 'an object' : typeof value;
  }
  return text.length > max ? `${text.slice(0, max)}…` : text;
}
