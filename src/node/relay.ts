/**
 * A WebSocket relay: browser stacks (and Node stacks, and v86-style emulators) that
 * connect with a WebSocket share one Ethernet. Each client gets a port on an
 * in-process learning switch (src/link/switch.ts); each binary message is one
 * Ethernet frame (see src/link/websocket.ts). Optionally a UDP-tunnel hub is plugged
 * into the switch too, so stacks joined with `udpTunnel` (other processes, other
 * machines) are on the same Ethernet; and a TAP device (root), so the kernel is on
 * it too: give the TAP an address and the page's stack reaches the host (and,
 * with forwarding and NAT, beyond it). Any other Device can be plugged in as an
 * uplink.
 *
 *   const relay = await startRelay({ port: 8080 });          // ws://127.0.0.1:8080/
 *   ...
 *   await relay.close();
 *
 * There is no authentication or encryption: bind to 127.0.0.1 (the default), or put
 * it behind something that provides them.
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { type WebSocket, WebSocketServer } from 'ws';
import type { Device, SimDevice } from '../link/device.ts';
import { RealtimeDriver } from '../link/realtime.ts';
import { Switch } from '../link/switch.ts';
import { CryptoRng } from '../rand/rng.ts';
import { SystemClock } from '../time/system.ts';
import { completeFrameChecksum } from '../wire/offload.ts';
import { openTap, type TapDevice, type TapOptions } from './tap.ts';
import { type TunnelPeer, type UdpTunnel, udpTunnel } from './udp-tunnel.ts';

export interface RelayOptions {
  /** Address to listen on. Default 127.0.0.1. */
  host?: string;
  /** TCP port; 0 (default) picks one. */
  port?: number;
  /** Accept WebSockets only on this path (e.g. '/net'). Default: any path. */
  path?: string;
  /** Clients beyond this many are turned away (close code 1013). Default 64. */
  maxClients?: number;
  /** IP MTU of the Ethernet. Default 1500. */
  mtu?: number;
  /** Stop sending to a client whose socket buffers more than this many bytes (frames dropped). Default 1 MiB. */
  maxBufferedAmount?: number;
  /** Also plug a UDP-tunnel hub into the switch (peers are learnt from what they send). */
  tunnel?: { host?: string; port?: number; peers?: readonly TunnelPeer[] };
  /**
   * Also open a TAP device (needs root or CAP_NET_ADMIN) and plug it into the switch;
   * it is closed with the relay. Its kernel side is left as the kernel made it: give
   * it an address and bring it up (`ip addr add 10.0.0.1/24 dev NAME; ip link set NAME up`).
   */
  tap?: Pick<TapOptions, 'name' | 'mtu'>;
  /** Devices to plug into the switch as they are (a TAP opened by the caller, ...). The caller closes them. */
  uplinks?: readonly Device[];
  /** One line per client arriving or leaving (for a CLI). */
  log?: (line: string) => void;
}

export interface RelayStats {
  /** Clients accepted so far. */
  clients: number;
  /** Clients turned away (too many). */
  rejected: number;
  /** Frames received from clients and put on the switch. */
  framesIn: number;
  /** Frames sent to clients. */
  framesOut: number;
  /** Messages that were not a frame: text, too short, too long. */
  badMessages: number;
  /** Frames not sent to a client whose buffer was full. */
  dropped: number;
}

export interface Relay {
  /** ws://host:port/ (with `path` when one was given). */
  readonly url: string;
  readonly port: number;
  readonly switch: Switch;
  readonly driver: RealtimeDriver;
  /** The UDP-tunnel hub, when `tunnel` was given. */
  readonly tunnel: UdpTunnel | undefined;
  /** The TAP device, when `tap` was given. */
  readonly tap: TapDevice | undefined;
  readonly stats: RelayStats;
  /** Clients connected now. */
  readonly connected: number;
  /** Closes every client, the tunnel and the server. */
  close(): Promise<void>;
}

export async function startRelay(options: RelayOptions = {}): Promise<Relay> {
  const host = options.host ?? '127.0.0.1';
  const mtu = options.mtu ?? 1500;
  const maxFrame = mtu + 14;
  const maxClients = options.maxClients ?? 64;
  const maxBuffered = options.maxBufferedAmount ?? 1 << 20;
  const log = options.log ?? (() => {});
  const clock = new SystemClock();
  const driver = new RealtimeDriver({ clock, unref: true });
  const sw = driver.add(new Switch({ clock, rng: new CryptoRng(), mtu, name: 'relay' }));
  const stats: RelayStats = {
    clients: 0,
    rejected: 0,
    framesIn: 0,
    framesOut: 0,
    badMessages: 0,
    dropped: 0,
  };
  // Ports of clients that left, reused by the next ones (the switch cannot remove a port).
  const free: SimDevice[] = [];
  const sockets = new Set<WebSocket>();

  const server = http.createServer((_req, res) => {
    res.writeHead(426, { 'content-type': 'text/plain; charset=utf-8', upgrade: 'websocket' });
    res.end('sockstack relay: connect with a WebSocket (one Ethernet frame per binary message)\n');
  });
  const wss = new WebSocketServer({
    server,
    ...(options.path ? { path: options.path } : {}),
    maxPayload: 2 * maxFrame,
    perMessageDeflate: false,
  });

  wss.on('connection', (ws, req) => {
    const who = `${req.socket.remoteAddress}:${req.socket.remotePort}`;
    if (sockets.size >= maxClients) {
      stats.rejected++;
      log(`turned away ${who}: ${maxClients} clients already`);
      ws.close(1013, 'too many clients');
      return;
    }
    sockets.add(ws);
    stats.clients++;
    const dev = free.pop() ?? sw.port();
    log(`${who} joined on ${dev.name} (${sockets.size} connected)`);
    dev.onReceive = (frame) => {
      if (ws.readyState !== ws.OPEN || ws.bufferedAmount > maxBuffered) {
        stats.dropped++;
        return;
      }
      stats.framesOut++;
      ws.send(frame);
    };
    ws.on('message', (data, isBinary) => {
      const n = Array.isArray(data) ? -1 : data.byteLength;
      if (!isBinary || n < 14 || n > maxFrame) {
        stats.badMessages++;
        return;
      }
      stats.framesIn++;
      // A copy the switch may keep while the frame waits for its poll.
      dev.transmit(new Uint8Array(data as ArrayBuffer | Buffer));
      driver.kick();
    });
    ws.on('error', () => {}); // 'close' follows; a bad peer must not crash the relay
    ws.on('close', () => {
      sockets.delete(ws);
      dev.onReceive = null;
      free.push(dev);
      log(`${who} left ${dev.name} (${sockets.size} connected)`);
    });
  });

  let tunnel: UdpTunnel | undefined;
  if (options.tunnel) {
    const t = await udpTunnel({
      name: 'relay-tunnel',
      host: options.tunnel.host ?? host,
      port: options.tunnel.port ?? 0,
      peers: options.tunnel.peers,
      mtu,
      learnPeers: true,
    });
    tunnel = t;
    const dev = sw.port();
    dev.onReceive = (frame) => t.transmit(frame);
    t.onReceive = (frame) => {
      dev.transmit(frame.slice()); // the datagram's buffer is not ours to keep
      driver.kick();
    };
  }

  /** Joins a device to a new port of the switch, in both directions. */
  const plug = (d: Device): void => {
    const port = sw.port();
    port.onReceive = (frame) => d.transmit(frame);
    d.onReceive = (frame) => {
      // A device with checksum offload may hand over partial checksums (virtio NEEDS_CSUM);
      // the switch's other ports check every checksum, so it is filled in here.
      if (d.rxChecksumValid === true) completeFrameChecksum(frame, d.linkType);
      port.transmit(frame);
      driver.kick();
    };
  };
  for (const d of options.uplinks ?? []) plug(d);

  let tap: TapDevice | undefined;
  try {
    if (options.tap) {
      // No offloads: the relay is a switch, and the frames it takes from the TAP go on to
      // links that check every checksum (a partial one from the kernel would be dropped there).
      tap = await openTap({ offload: false, ...options.tap, mode: 'tap' });
      plug(tap);
    }
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port ?? 0, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (e) {
    driver.stop();
    await tunnel?.close();
    await tap?.close();
    throw e;
  }
  const port = (server.address() as AddressInfo).port;
  const shownHost = host.includes(':') ? `[${host}]` : host;
  const url = `ws://${shownHost}:${port}${options.path ?? '/'}`;

  let closing: Promise<void> | undefined;
  return {
    url,
    port,
    switch: sw,
    driver,
    tunnel,
    tap,
    stats,
    get connected() {
      return sockets.size;
    },
    close() {
      closing ??= (async () => {
        for (const ws of sockets) ws.terminate();
        await new Promise<void>((resolve) => wss.close(() => resolve()));
        server.closeAllConnections();
        await new Promise<void>((resolve) => server.close(() => resolve()));
        await tunnel?.close();
        for (const d of options.uplinks ?? []) d.onReceive = null;
        await tap?.close();
        driver.stop();
      })();
      return closing;
    },
  };
}
