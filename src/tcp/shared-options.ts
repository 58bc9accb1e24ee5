/**
 * Socket options shared between connections until one changes its own (copy on write:
 * Tcb.ownOpts). Most connections keep the options they were made with, the layer's
 * defaults or their listener's; a copy of the dozen fields per connection is an eighth of
 * an idle connection's memory (bench/idle.ts).
 */
import type { TcpSocketOptions } from './config.ts';

/** How many distinct option sets are remembered (most recently used first). */
const SLOTS = 4;

export class SharedOptions {
  readonly #recent: Readonly<TcpSocketOptions>[] = [];

  /**
   * An object with the same options as `o`: one handed out before when one was equal (field
   * by field; a field set to undefined equals one left out), else `o` itself, remembered.
   * The result is shared: it must not be changed.
   */
  intern(o: TcpSocketOptions): Readonly<TcpSocketOptions> {
    const recent = this.#recent;
    for (let i = 0; i < recent.length; i++) {
      const r = recent[i]!;
      if (sameOptions(r, o)) {
        if (i > 0) {
          recent.splice(i, 1);
          recent.unshift(r);
        }
        return r;
      }
    }
    recent.unshift(o);
    if (recent.length > SLOTS) recent.pop();
    return o;
  }
}

function sameOptions(a: Readonly<TcpSocketOptions>, b: Readonly<TcpSocketOptions>): boolean {
  const x = a as Record<string, unknown>;
  const y = b as Record<string, unknown>;
  for (const k in x) if (x[k] !== y[k]) return false;
  // A key of y's that x lacks reads undefined in x (`in` was a slower generic lookup).
  for (const k in y) if (x[k] !== y[k]) return false;
  return true;
}
