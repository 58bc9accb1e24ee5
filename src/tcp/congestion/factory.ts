/**
 * Builds the congestion controller a connection asks for by name (TCP_CONGESTION). Apart from
 * the algorithms, so they import only the interface (types.ts) and nothing imports them back.
 */
import { Cubic } from './cubic.ts';
import { NewReno } from './newreno.ts';
import type { CongestionControl } from './types.ts';

export type CongestionName = 'newreno' | 'cubic';

export function createCongestionControl(name: CongestionName, mss: number): CongestionControl {
  switch (name) {
    case 'newreno':
      return new NewReno(mss);
    case 'cubic':
      return new Cubic(mss);
    default:
      throw new RangeError(`unknown congestion control ${String(name)}`);
  }
}
