/**
 * A gateway for QEMU guests in Node: listens for `-netdev stream` connections (a Unix
 * socket path or a TCP port), gives each guest a Gateway (src/gateway/gateway.ts) over
 * the OS dialer, and opens the inbound port forwards on the host's loopback.
 *
 *   const gw = await startGateway({ socket: '/tmp/gw.sock', forwards: [{ host: 8080, guest: 80 }] });
 *   // qemu ... -netdev stream,id=n0,server=off,addr.type=unix,addr.path=/tmp/gw.sock \
 *   //          -device virtio-net-pci,netdev=n0
 */
import * as dgram from 'node:dgram';
import * as net from 'node:net';
import * as os from 'node:os';
import type { Dialer } from '../gateway/dialer.ts';
import { Gateway, type GatewayOptions } from '../gateway/gateway.ts';
import type { Device } from '../link/device.ts';
import { captureDevice } from '../link/pcap.ts';
import { CryptoRng } from '../rand/rng.ts';
import { OsDialer, streamOver } from './gateway-dialer.ts';
import { openPcapngFile } from './pcap-file.ts';
import { listenStreamLink, type StreamLink, type StreamLinkServer } from './qemu-link.ts';
import { setSendBuffer } from './sndbuf.ts';
import { StackRuntime } from './stack-runtime.ts';

/**
 * The MTU a QEMU guest is offered (DHCP option 26) unless told otherwise: passt's 65520.
 * A virtio NIC takes it, and an emulated guest spends its time per packet, not per byte:
 * 64 KiB frames moved a download about 1.5-2× faster than 1500-byte ones here.
 */
export const QEMU_MTU = 65520;

/**
 * Whether the host has IPv6 to offer a guest: an IPv6 address on some interface other than
 * loopback that is not link-local (the gateway then names itself the guest's IPv6 default
 * router; without such an address a guest would try IPv6 first and fail).
 */
export function hostHasIpv6(): boolean {
  return Object.values(os.networkInterfaces()).some((list) =>
    (list ?? []).some((a) => a.family === 'IPv6' && !a.internal && !/^fe[89ab]/i.test(a.address)),
  );
}

export interface PortForward {
  /** Host port on `bind` (default 127.0.0.1). */
  readonly host: number;
  readonly guest: number;
}

export interface StartGatewayOptions extends Omit<GatewayOptions, 'clock' | 'rng' | 'device' | 'dialer'> {
  /** Unix socket path QEMU connects to (`addr.type=unix`), or */
  socket?: string;
  /** a TCP port on 127.0.0.1 (`addr.type=inet`; 0 picks one). */
  port?: number;
  /** TCP port forwards host → guest. */
  forwards?: readonly PortForward[];
  /** UDP port forwards host → guest. */
  udpForwards?: readonly PortForward[];
  /** Address the forwards listen on (default 127.0.0.1). */
  bind?: string;
  /** Write the guest link's frames to a pcapng file. */
  pcap?: string;
  /** Default: the OS dialer, which forwards pings through the host's ping sockets. */
  dialer?: Dialer;
  /** Default: whether the host has IPv6 beyond its loopback and link-local (hostHasIpv6). */
  ipv6DefaultRoute?: boolean;
  /**
   * SO_SNDBUF asked for on QEMU's socket (sndbuf.ts); default 1 GiB, which the kernel
   * clamps to net.core.wmem_max, as passt asks for INT_MAX / 2. 0 leaves the kernel's.
   */
  linkSendBuffer?: number;
}

export interface RunningGateway {
  /** Where QEMU connects. */
  readonly address: StreamLinkServer['address'];
  /** The ports the forwards listen on (the given ones; 0 resolved). */
  readonly forwardPorts: readonly number[];
  /** The ports the UDP forwards are bound to. */
  readonly udpForwardPorts: readonly number[];
  /** The gateway of the current guest (undefined until one connected). */
  readonly gateway: Gateway | undefined;
  /** Resolves with the gateway once a guest connected. */
  readonly connected: Promise<Gateway>;
  statusLine(): string;
  close(): Promise<void>;
}

export async function startGateway(o: StartGatewayOptions): Promise<RunningGateway> {
  if ((o.socket === undefined) === (o.port === undefined))
    throw Object.assign(new Error('EINVAL: give a socket path or a port'), { code: 'EINVAL' });
  const runtime = new StackRuntime();
  const ownDialer = o.dialer === undefined ? new OsDialer() : undefined;
  const dialer = o.dialer ?? ownDialer!;
  const ipv6DefaultRoute = o.ipv6DefaultRoute ?? (o.ipv6Prefix !== undefined && hostHasIpv6());
  const pcap = o.pcap ? openPcapngFile(o.pcap) : undefined;
  const server = await listenStreamLink(o.socket !== undefined ? { path: o.socket } : { port: o.port ?? 0 });
  let current: Gateway | undefined;
  let currentLink: StreamLink | undefined;
  let resolveConnected!: (g: Gateway) => void;
  const connected = new Promise<Gateway>((r) => {
    resolveConnected = r;
  });
  server.onConnection = (link) => {
    // One guest at a time (as passt): a new connection replaces the old one.
    if (current) {
      current.close();
      void currentLink?.close();
    }
    // Frames queued in the kernel, not in Node's write queue: QEMU reads them on its own
    // time, while a busy event loop would leave it waiting (sndbuf.ts).
    const sndbuf = o.linkSendBuffer ?? 1 << 30;
    if (sndbuf > 0) void setSendBuffer(link.socket, sndbuf);
    const device: Device = pcap ? captureDevice(link, pcap.writer, runtime.clock) : link;
    const {
      socket: _s,
      port: _p,
      forwards: _f,
      udpForwards: _u,
      bind: _b,
      pcap: _c,
      dialer: _d,
      linkSendBuffer: _l,
      ...gwOpts
    } = o;
    const gw = new Gateway({
      ...gwOpts,
      ipv6DefaultRoute,
      mtu: o.mtu ?? QEMU_MTU,
      clock: runtime.clock,
      rng: new CryptoRng(),
      device,
      dialer,
    });
    runtime.addStack(gw.stack);
    runtime.ref();
    link.onClose = () => {
      runtime.unref();
      if (current === gw) {
        gw.close();
        current = undefined;
      }
    };
    current = gw;
    currentLink = link;
    resolveConnected(gw);
  };
  const servers: net.Server[] = [];
  const open = new Set<net.Socket>();
  const forwardPorts: number[] = [];
  for (const f of o.forwards ?? []) {
    const s = net.createServer({ allowHalfOpen: true, pauseOnConnect: true }, (sock) => {
      open.add(sock);
      sock.once('close', () => open.delete(sock));
      if (!current) {
        sock.destroy();
        return;
      }
      const hs = streamOver(sock);
      current.forwardToGuest(f.guest, hs);
      runtime.kick();
    });
    await new Promise<void>((res, rej) => {
      s.once('error', rej);
      s.listen(f.host, o.bind ?? '127.0.0.1', () => {
        s.off('error', rej);
        res();
      });
    });
    servers.push(s);
    forwardPorts.push((s.address() as net.AddressInfo).port);
  }
  const udpSockets: dgram.Socket[] = [];
  const udpForwardPorts: number[] = [];
  for (const f of o.udpForwards ?? []) {
    const s = dgram.createSocket('udp4');
    s.on('message', (msg, rinfo) => {
      current?.forwardDatagramToGuest(
        f.guest,
        new Uint8Array(msg.buffer, msg.byteOffset, msg.byteLength),
        `${rinfo.address}:${rinfo.port}`,
        (d) => s.send(d, rinfo.port, rinfo.address),
      );
      runtime.kick();
    });
    s.on('error', () => {});
    await new Promise<void>((res, rej) => {
      s.once('error', rej);
      s.bind(f.host, o.bind ?? '127.0.0.1', () => {
        s.off('error', rej);
        res();
      });
    });
    udpSockets.push(s);
    udpForwardPorts.push(s.address().port);
  }
  return {
    address: server.address,
    forwardPorts,
    udpForwardPorts,
    get gateway() {
      return current;
    },
    connected,
    statusLine: () => current?.statusLine() ?? 'waiting for a guest',
    async close() {
      current?.close();
      // The links and forwarded connections first: a server's close waits for its connections.
      await currentLink?.close();
      for (const sock of open) sock.destroy();
      for (const u of udpSockets) u.close();
      await Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
      await server.close();
      runtime.stop();
      ownDialer?.pinger?.close();
      pcap?.file.close();
    },
  };
}
