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
    return this.#remember(o);
  }

  /**
   * `intern({ ...base, ...over })`, the merged object made only when no equal one is
   * remembered: a connection per SYN or connect() with the same options makes none.
   */
  internMerged(
    base: Readonly<TcpSocketOptions>,
    over: Readonly<Partial<TcpSocketOptions>> | undefined,
  ): Readonly<TcpSocketOptions> {
    const recent = this.#recent;
    for (let i = 0; i < recent.length; i++) {
      const r = recent[i]!;
      if (sameMerged(r, base, over)) {
        if (i > 0) {
          recent.splice(i, 1);
          recent.unshift(r);
        }
        return r;
      }
    }
    return this.#remember({ ...base, ...over });
  }

  #remember(o: Readonly<TcpSocketOptions>): Readonly<TcpSocketOptions> {
    const recent = this.#recent;
    recent.unshift(o);
    if (recent.length > SLOTS) recent.pop();
    return o;
  }
}

/** Own properties only, as a spread copies them. */
const own = Object.prototype.hasOwnProperty;

/** `{ ...base, ...over }`'s field `k` (an own field of `over` wins, even set to undefined). */
function merged(
  base: Record<string, unknown>,
  over: Record<string, unknown> | undefined,
  k: string,
): unknown {
  return over !== undefined && own.call(over, k) ? over[k] : base[k];
}

/** sameOptions(a, { ...base, ...over }) without making the merged object. */
function sameMerged(
  a: Readonly<TcpSocketOptions>,
  base: Readonly<TcpSocketOptions>,
  over: Readonly<Partial<TcpSocketOptions>> | undefined,
): boolean {
  const x = a as Record<string, unknown>;
  const b = base as Record<string, unknown>;
  const o = over as Record<string, unknown> | undefined;
  for (const k in x) if (x[k] !== merged(b, o, k)) return false;
  for (const k in b) if (!(k in x) && merged(b, o, k) !== undefined) return false;
  if (o !== undefined) for (const k in o) if (!(k in x) && o[k] !== undefined) return false;
  return true;
}

function sameOptions(a: Readonly<TcpSocketOptions>, b: Readonly<TcpSocketOptions>): boolean {
  const x = a as Record<string, unknown>;
  const y = b as Record<string, unknown>;
  for (const k in x) if (x[k] !== y[k]) return false;
  for (const k in y) if (!(k in x) && y[k] !== undefined) return false;
  return true;
}
