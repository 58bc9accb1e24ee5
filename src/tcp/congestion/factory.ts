/**
 * Builds the congestion controller a connection asks for by name (TCP_CONGESTION). Apart from
 * the algorithms, so they import only the interface (types.ts) and nothing imports them back.
 */
import { Bbr } from './bbr.ts';
import { Cubic } from './cubic.ts';
import type { SlowStartExit } from './hystart.ts';
import { NewReno } from './newreno.ts';
import type { CongestionControl, CongestionName, RenoSsthresh } from './types.ts';

export type { CongestionName } from './types.ts';

/** The names TCP_CONGESTION takes, as Linux and FreeBSD spell them, and the controller each selects. */
export const CONGESTION_ALIASES: Readonly<Record<string, CongestionName>> = {
  reno: 'newreno',
  newreno: 'newreno',
  cubic: 'cubic',
  bbr: 'bbr',
};

/**
 * Whether this build has BBR: the stack-alone browser bundle leaves it out, as Linux builds
 * tcp_bbr as a module (bbr-absent.ts).
 */
export const BBR_BUILT_IN: boolean = typeof (Bbr as unknown) === 'function';

/** The controller a TCP_CONGESTION name selects, or undefined (Linux: ENOENT). */
export function congestionByName(name: string): CongestionName | undefined {
  const cc = Object.hasOwn(CONGESTION_ALIASES, name) ? CONGESTION_ALIASES[name] : undefined;
  return cc === 'bbr' && !BBR_BUILT_IN ? undefined : cc;
}

export interface CongestionOptions {
  /** A random integer in [0, n): BBR's random PROBE_BW phase (the stack's seeded Rng). */
  random?: (n: number) => number;
  /** CUBIC's early slow-start exit (default: Linux's HyStart). */
  slowStartExit?: SlowStartExit;
  /** Slow start's per-ACK growth limit in segments (RFC 3465 L; Linux: Infinity). */
  abcLimit?: number;
  /** CUBIC's first congestion event halves the window (FreeBSD cc_cubic). */
  cubicFirstHalves?: boolean;
  /** NewReno's ssthresh on a congestion event (default RFC 5681's FlightSize / 2). */
  renoSsthresh?: RenoSsthresh;
}

export function createCongestionControl(
  name: CongestionName,
  mss: number,
  opts: CongestionOptions = {},
): CongestionControl {
  // The options go to the controller as they are: a conditional spread per field
  // (`...(x ? { x } : {})`) took about a microsecond per connection, as much as the rest
  // of the controller's construction twenty times over (bench crr).
  switch (name) {
    case 'newreno':
      return new NewReno(mss, opts);
    case 'cubic':
      return new Cubic(mss, opts);
    case 'bbr':
      if (!BBR_BUILT_IN)
        throw Object.assign(
          new RangeError(
            'congestion control "bbr" is not in this build (stack.js leaves it out; sockstack.js has it)',
          ),
          { code: 'ERR_INVALID_ARG_VALUE' },
        );
      return new Bbr(mss, opts);
    default:
      throw new RangeError(`unknown congestion control ${String(name)}`);
  }
}
