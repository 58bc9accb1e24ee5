/**
 * Running sockstack hosts in real time for Node's own libraries (node:http, undici,
 * ws, tls): a `StackRuntime` owns a RealtimeDriver, kicks it whenever something may
 * have changed a deadline (a timer armed on a stack, a frame put on a memory link,
 * an application call on a StackSocket), and keeps the Node process alive only
 * while some socket or server is ref'd (Node's ref/unref semantics, counted).
 *
 *   const net = virtualNetwork({ hosts: { server: '10.0.0.1/24', client: '10.0.0.2/24' } });
 *   const server = net.net('server').createServer((sock) => sock.pipe(sock)).listen(7);
 *   const sock = net.net('client').connect(7, '10.0.0.1');
 *   ...
 *   await net.close();
 *
 * Nothing here assumes memory links: `StackRuntime.for(driver)` wraps any
 * RealtimeDriver (for example tapStack's) so StackSockets can drive it.
 */

import { Cable } from '../link/memory.ts';
import { RealtimeDriver } from '../link/realtime.ts';
import { Switch } from '../link/switch.ts';
import { CryptoRng, type Rng } from '../rand/rng.ts';
import { Stack, type StackConfig } from '../stack.ts';
import type { Clock, Pollable } from '../time/clock.ts';
import { SystemClock } from '../time/system.ts';
import { parseIpv4 } from '../wire/address.ts';
import { type StackNet, stackNet } from './net-facade.ts';

/** What a StackSocket needs from whatever drives its stack. */
export interface SocketDriver {
  /** Something changed (app I/O): let the driver poll soon. Cheap; coalesced. */
  kick(): void;
  /** One more handle wants the process kept alive (counted). */
  ref(): void;
  /** One handle fewer wants the process kept alive. */
  unref(): void;
}

const byDriver = new WeakMap<RealtimeDriver, StackRuntime>();

export interface StackRuntimeOptions {
  /** Default: a new SystemClock (or the driver's clock when `driver` is given). */
  clock?: Clock;
  /** Reuse an existing driver (e.g. tapStack's) instead of making one. */
  driver?: RealtimeDriver;
}

export class StackRuntime implements SocketDriver {
  readonly driver: RealtimeDriver;
  readonly clock: Clock;
  #refs = 0;
  #closed = false;
  readonly #watched = new WeakSet<Stack>();

  constructor(options: StackRuntimeOptions = {}) {
    this.driver =
      options.driver ?? new RealtimeDriver({ clock: options.clock ?? new SystemClock(), unref: true });
    this.clock = this.driver.clock;
    if (!options.driver) {
      byDriver.set(this.driver, this);
      this.#apply();
    }
  }

  /** The runtime for an existing driver (one per driver; made on first use). */
  static for(driver: RealtimeDriver | StackRuntime): StackRuntime {
    if (driver instanceof StackRuntime) return driver;
    let rt = byDriver.get(driver);
    if (!rt) {
      rt = new StackRuntime({ driver });
      byDriver.set(driver, rt);
    }
    return rt;
  }

  /** Number of ref'd handles (sockets, listening servers). */
  get refs(): number {
    return this.#refs;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Adds a stack: it is polled by the driver, and a timer armed earlier than any other
   * on it (`TimerQueue.onEarliestChanged`), or a frame queued on it while idle
   * (`Stack.onWake`), kicks the driver.
   */
  addStack(stack: Stack): Stack {
    if (!this.#watched.has(stack)) {
      this.#watched.add(stack);
      // A timer armed earlier than what the driver sleeps until must wake it.
      const timers = stack.timers;
      const prev = timers.onEarliestChanged;
      timers.onEarliestChanged = prev
        ? (d) => {
            prev(d);
            this.kick();
          }
        : () => this.kick();
      const wake = stack.onWake;
      stack.onWake = wake
        ? () => {
            wake();
            this.kick();
          }
        : () => this.kick();
    }
    // The stack's Python-style sockets hold this runtime while a call blocks (issue #18).
    stack.backend.keepAlive = this;
    this.driver.add(stack);
    return stack;
  }

  /** Adds any other Pollable (a cable, a switch, an impaired device). */
  add<T extends Pollable>(p: T): T {
    return this.driver.add(p);
  }

  kick(): void {
    this.driver.kick();
  }

  ref(): void {
    this.#refs++;
    this.#apply();
  }

  unref(): void {
    if (this.#refs > 0) this.#refs--;
    this.#apply();
  }

  /** Stops the driver: nothing moves any more (sockets still open simply stall). */
  stop(): void {
    this.#closed = true;
    this.driver.stop();
  }

  #apply(): void {
    if (this.#refs > 0) this.driver.ref();
    else this.driver.unref();
  }
}

// ------------------------------------------------------------------ virtual networks

function forkOf(rng: Rng): Rng {
  const f = (rng as { fork?: () => Rng }).fork;
  return typeof f === 'function' ? f.call(rng) : rng;
}

export interface VirtualNetworkOptions {
  /** Host name → its address with prefix ('10.0.0.1/24'). Two hosts share a cable; more share a switch. */
  hosts: Record<string, string>;
  /** IP MTU of every link. Default 1500. */
  mtu?: number;
  /** Stack configuration for every host (TCP buffer sizes, ...). */
  config?: StackConfig;
  rng?: Rng;
  clock?: Clock;
}

export interface VirtualNetwork {
  readonly runtime: StackRuntime;
  readonly stacks: Readonly<Record<string, Stack>>;
  /** The `net`-like facade of one host (cached). */
  net(host: string): StackNet;
  /** host name → address without prefix. */
  address(host: string): string;
  /** Stops the driver. Close your servers and sockets first if you want orderly FINs. */
  close(): Promise<void>;
}

/**
 * Hosts on one memory link (a Cable for two, a learning Switch for more), each
 * knowing the others by name (`stack.hosts`), run in real time by a StackRuntime.
 */
export function virtualNetwork(options: VirtualNetworkOptions): VirtualNetwork {
  const clock = options.clock ?? new SystemClock();
  const rng = options.rng ?? new CryptoRng();
  const runtime = new StackRuntime({ clock });
  const mtu = options.mtu ?? 1500;
  const names = Object.keys(options.hosts);
  if (names.length < 1) throw new TypeError('virtualNetwork: no hosts');
  const devices = [];
  if (names.length === 2) {
    const cable = runtime.add(new Cable({ clock, rng: forkOf(rng), mtu, names: [names[0], names[1]] }));
    devices.push(cable.a, cable.b);
  } else {
    const sw = runtime.add(new Switch({ clock, rng: forkOf(rng), mtu }));
    for (let i = 0; i < names.length; i++) devices.push(sw.port());
  }
  const stacks: Record<string, Stack> = {};
  const addrs: Record<string, string> = {};
  for (let i = 0; i < names.length; i++) {
    const name = names[i];
    const cidr = options.hosts[name];
    const stack = new Stack({ clock, rng: forkOf(rng), name, config: options.config, privileged: true });
    stack.addInterface({ name: 'eth0', device: devices[i], addresses: [cidr], mtu });
    stacks[name] = runtime.addStack(stack);
    addrs[name] = cidr.split('/')[0];
  }
  for (const s of Object.values(stacks)) {
    for (const [n, a] of Object.entries(addrs)) {
      const v4 = parseIpv4(a);
      if (v4 === undefined) throw new TypeError(`virtualNetwork: bad address for ${n}: ${a}`);
      s.hosts.set(n.toLowerCase(), v4);
    }
  }
  const nets = new Map<string, StackNet>();
  return {
    runtime,
    stacks,
    net(host) {
      const s = stacks[host];
      if (!s) throw new TypeError(`virtualNetwork: no host ${host}`);
      let n = nets.get(host);
      if (!n) nets.set(host, (n = stackNet(s, runtime)));
      return n;
    },
    address(host) {
      const a = addrs[host];
      if (a === undefined) throw new TypeError(`virtualNetwork: no host ${host}`);
      return a;
    },
    async close() {
      for (const n of nets.values()) n.closeAll();
      // Let the RSTs/FINs just queued reach the wire before the driver stops.
      await new Promise<void>((r) => setImmediate(r));
      runtime.driver.runNow();
      runtime.stop();
    },
  };
}
