// Stop strings over streamed text: text is released only once it can no longer be the start of a stop
// string, and a stop string itself is never released.

export class StopMatcher {
  private readonly stops: string[];
  private held = '';

  constructor(stops: readonly string[]) {
    this.stops = stops.filter((s) => s.length > 0);
  }

  /** Add text; returns what may be emitted now and whether a stop string was reached. */
  push(text: string): { emit: string; stopped: boolean } {
    this.held += text;
    let cut = -1;
    for (const s of this.stops) {
      const i = this.held.indexOf(s);
      if (i >= 0 && (cut < 0 || i < cut)) cut = i;
    }
    if (cut >= 0) {
      const emit = this.held.slice(0, cut);
      this.held = '';
      return { emit, stopped: true };
    }
    // hold back the longest tail that is a prefix of some stop string
    let keep = 0;
    for (const s of this.stops) {
      for (let n = Math.min(s.length - 1, this.held.length); n > keep; n--) {
        if (this.held.endsWith(s.slice(0, n))) { keep = n; break; }
      }
    }
    const emit = this.held.slice(0, this.held.length - keep);
    this.held = this.held.slice(this.held.length - keep);
    return { emit, stopped: false };
  }

  /** Text still held back at the end of generation. */
  flush(): string {
    const rest = this.held;
    this.held = '';
    return rest;
  }
}
