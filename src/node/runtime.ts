/**
 * Virtual networks in real time for Node's own libraries (node:http, undici, ws, tls):
 * hosts on memory links, driven by a `StackRuntime` (stack-runtime.ts), each with a
 * `net`-like facade (net-facade.ts).
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
import { Switch } from '../link/switch.ts';
import { CryptoRng, type Rng } from '../rand/rng.ts';
import { Stack, type StackConfig } from '../stack.ts';
import type { Clock } from '../time/clock.ts';
import { type HostTimers, SystemClock } from '../time/system.ts';
import { parseIpv4 } from '../wire/address.ts';
import { type StackNet, stackNet } from './net-facade.ts';
import { StackRuntime } from './stack-runtime.ts';

export { type SocketDriver, StackRuntime, type StackRuntimeOptions } from './stack-runtime.ts';

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
  /** Host timers the runtime sleeps on; with a ManualClock, `ManualHostTimers` runs it on virtual time. */
  timers?: HostTimers;
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
  const runtime = new StackRuntime({ clock, timers: options.timers });
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
