import type { Rng } from '../rand/rng.ts';
import type { Clock, Pollable } from '../time/clock.ts';
import { type Duration, type Instant, seconds } from '../time/instant.ts';
import type { SimDevice } from './device.ts';
import type { Impairments } from './impair.ts';
import { Cable, type CableEnd } from './memory.ts';

export interface SwitchOptions {
  clock: Clock;
  rng: Rng;
  /** How long a learned MAC stays in the table without being seen again. Default 300 s (IEEE 802.1D). */
  agingTime?: Duration;
  /** IP MTU of every port; default 1500. */
  mtu?: number;
  /** Name prefix for port devices; default 'sw'. Ports are named `${name}.${index}`. */
  name?: string;
}

/** Per-direction impairments of one port's cable. A plain Impairments applies to both directions. */
export interface PortImpairments {
  /** Frames the plugged-in device sends towards the switch. */
  toSwitch?: Impairments;
  /** Frames the switch sends to the plugged-in device. */
  fromSwitch?: Impairments;
}

export interface SwitchStats {
  /** Frames received from ports. */
  received: number;
  /** Frames sent to exactly one known port. */
  forwarded: number;
  /** Frames flooded (broadcast, multicast or unknown destination). */
  flooded: number;
  /** Frames dropped because the destination is on the ingress port. */
  filtered: number;
  /** Frames too short to carry an Ethernet header. */
  runts: number;
}

interface Entry {
  port: number;
  expires: Instant;
}

/**
 * A learning Ethernet switch (IEEE 802.1D transparent bridging without STP: do not
 * build loops). Each port is a Cable whose far end is a SimDevice you plug a stack
 * interface into. Forwarding inside the switch is instantaneous; delay and other
 * impairments come from each port's cable.
 *
 * Driver registration: register the switch (`sim.add(sw)`); it polls every port's cable.
 */
export class Switch implements Pollable {
  readonly stats: SwitchStats = { received: 0, forwarded: 0, flooded: 0, filtered: 0, runts: 0 };
  readonly #clock: Clock;
  readonly #rng: Rng;
  readonly #aging: Duration;
  readonly #mtu: number;
  readonly #name: string;
  readonly #cables: Cable[] = [];
  /** Switch-side ends, indexed by port number. */
  readonly #inner: CableEnd[] = [];
  /** MAC (as a 48-bit number) → port and expiry. */
  readonly #table = new Map<number, Entry>();

  constructor(options: SwitchOptions) {
    this.#clock = options.clock;
    this.#rng = options.rng;
    this.#aging = options.agingTime ?? seconds(300);
    this.#mtu = options.mtu ?? 1500;
    this.#name = options.name ?? 'sw';
  }

  /** Creates a new port and returns the device to plug into it. */
  port(impairments?: Impairments | PortImpairments): SimDevice {
    const index = this.#cables.length;
    let up: Impairments | undefined;
    let down: Impairments | undefined;
    if (impairments !== undefined && ('toSwitch' in impairments || 'fromSwitch' in impairments)) {
      up = (impairments as PortImpairments).toSwitch;
      down = (impairments as PortImpairments).fromSwitch;
    } else {
      up = impairments as Impairments | undefined;
      down = up;
    }
    const cable = new Cable({
      clock: this.#clock,
      rng: this.#rng,
      mtu: this.#mtu,
      linkType: 'ethernet',
      aToB: up,
      bToA: down,
      // Frames cross the switch as they are (no gso size travels with them), so its ports
      // carry real segments only.
      gso: false,
      names: [`${this.#name}.${index}`, `${this.#name}.${index}-inner`],
    });
    cable.b.onReceive = (frame) => this.#input(index, frame);
    this.#cables.push(cable);
    this.#inner.push(cable.b);
    return cable.a;
  }

  /** The cable behind port `index` (for its counters or to reconfigure impairments). */
  cable(index: number): Cable {
    return this.#cables[index];
  }

  get portCount(): number {
    return this.#cables.length;
  }

  /** The live MAC table, for tests and the CLI. */
  macTable(): { mac: string; port: number; expires: Instant }[] {
    const now = this.#clock.now();
    const out: { mac: string; port: number; expires: Instant }[] = [];
    for (const [k, e] of this.#table) {
      if (e.expires <= now) continue;
      out.push({ mac: macKeyToString(k), port: e.port, expires: e.expires });
    }
    return out;
  }

  nextDeadline(): Instant | undefined {
    let best: Instant | undefined;
    for (const c of this.#cables) {
      const d = c.nextDeadline();
      if (d !== undefined && (best === undefined || d < best)) best = d;
    }
    return best;
  }

  poll(now: Instant): void {
    for (const c of this.#cables) c.poll(now);
  }

  #input(ingress: number, frame: Uint8Array): void {
    this.stats.received++;
    if (frame.length < 14) {
      this.stats.runts++;
      return;
    }
    const now = this.#clock.now();
    // Learn the source (never a group address).
    if ((frame[6] & 1) === 0) {
      const src = macKey(frame, 6);
      const e = this.#table.get(src);
      if (e === undefined) this.#table.set(src, { port: ingress, expires: now + this.#aging });
      else {
        e.port = ingress;
        e.expires = now + this.#aging;
      }
    }
    if ((frame[0] & 1) === 0) {
      const dst = macKey(frame, 0);
      const e = this.#table.get(dst);
      if (e !== undefined) {
        if (e.expires > now) {
          if (e.port === ingress) {
            this.stats.filtered++;
            return;
          }
          this.stats.forwarded++;
          this.#inner[e.port].transmit(frame);
          return;
        }
        this.#table.delete(dst); // aged out
      }
    }
    this.stats.flooded++;
    const n = this.#inner.length;
    let last = -1;
    for (let p = 0; p < n; p++) {
      if (p === ingress) continue;
      if (last >= 0) this.#inner[last].transmit(frame.slice());
      last = p;
    }
    if (last >= 0) this.#inner[last].transmit(frame);
  }
}

function macKey(b: Uint8Array, o: number): number {
  return (
    (b[o] * 0x10000 + ((b[o + 1] << 8) | b[o + 2])) * 0x1000000 +
    ((b[o + 3] << 16) | (b[o + 4] << 8) | b[o + 5])
  );
}

function macKeyToString(k: number): string {
  const parts: string[] = [];
  for (let i = 5; i >= 0; i--) {
    parts[i] = (k % 256).toString(16).padStart(2, '0');
    k = Math.floor(k / 256);
  }
  return parts.join(':');
}
