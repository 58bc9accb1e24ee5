/**
 * A Wisp v1 server (relay) in Node: WebSocket clients open TCP and UDP streams
 * (src/wisp/packet.ts) and the server opens real sockets with node:net and node:dgram.
 *
 *   const server = await startWispServer({ port: 8080, allow: ['127.0.0.1:*'] });
 *   ... ws://127.0.0.1:8080/ ...
 *   await server.close();
 *
 * What the specification asks of a server, and where it is done:
 * - "Immediately after a websocket connection is established, the server must send a
 *   CONTINUE packet containing the initial buffer size for each stream" with stream
 *   id 0: on 'connection'.
 * - CONNECT is validated (stream type, port, hostname, stream id) and answered with
 *   CLOSE 0x41 when invalid; a destination outside the allow-list (wisp-policy.ts) gets
 *   0x48, a client over its stream limit 0x49, a name that does not resolve 0x42, a
 *   refusal 0x44, a connect timeout 0x43 ("the server must immediately try to
 *   establish a TCP/UDP socket ... If this fails, the server must send a CLOSE packet
 *   with the reason").
 * - DATA for a TCP stream goes through a FIFO of `bufferPackets` packets per stream
 *   ("the server must buffer any packets received from the client in a FIFO queue, and
 *   it must keep a separate buffer for each TCP stream"), which is written to the
 *   socket only while the socket's own buffer is below its high-water mark. So a slow
 *   destination fills the FIFO, and the client, out of credit, stops sending.
 * - CONTINUE credit: "The server must send another CONTINUE packet when it has received
 *   the same number of packets from the client as its own maximum buffer size". The
 *   client *replaces* its count with each CONTINUE's value, so a CONTINUE sent while
 *   the client still holds credit cannot be accounted exactly (packets in flight under
 *   the old credit would come on top of the new one). The server therefore grants
 *   credit when the client has spent all of it (and the FIFO has room), with the FIFO's
 *   free space: the FIFO then never holds more than `bufferPackets`. It also sends one
 *   CONTINUE when a TCP stream's connection is established: that is how our client
 *   (src/wisp/client.ts) knows connect() succeeded. Deviation: the spec's "should
 *   regularly send CONTINUE packets before this point" is not done, for that reason.
 *   A client that sends beyond its credit is cut off at twice the buffer (CLOSE 0x49).
 * - The other direction: what a destination sends goes to the client as DATA at once;
 *   when the client's WebSocket holds more than `maxBufferedBytes` unsent, every TCP
 *   socket of that client is paused (its kernel buffer fills, TCP's window closes),
 *   and resumed when the WebSocket drains below half of it. UDP datagrams arriving
 *   while the WebSocket is that full are dropped (counted).
 * - "For UDP streams, the server should automatically close each stream after around
 *   60 seconds of inactivity": `udpIdleMs`.
 * - A CLOSE from the client closes the stream: 0x02 (voluntary) writes what the FIFO
 *   holds and then ends the TCP connection with a FIN; any other reason resets it. A
 *   destination's FIN is sent to the client as CLOSE 0x02 (v1 has no half-close), its
 *   reset as 0x03. A client whose WebSocket goes away has its sockets closed as a dying
 *   process's are (a FIN, or the kernel's RST where data sat unread).
 * - Bad input never crashes the server: messages that are not Wisp packets, packets a
 *   client never sends (CONTINUE, anything on stream 0 but CLOSE) and packets for
 *   streams that are not open are dropped and counted in `stats`.
 */

import dgram from 'node:dgram';
import { lookup as dnsLookup } from 'node:dns/promises';
import * as http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { type RawData, type WebSocket, WebSocketServer } from 'ws';
import { isWireError } from '../wire/error.ts';
import {
  emitWispPacket,
  parseWispPacket,
  WISP_CLOSE,
  WISP_CONNECT,
  WISP_CONTINUE,
  WISP_DATA,
  WISP_HEADER_LENGTH,
  WISP_STREAM_TCP,
  WISP_STREAM_UDP,
  type WispPacket,
} from '../wisp/packet.ts';
import { WispCloseReason } from '../wisp/reasons.ts';
import { WispPolicy, type WispRule } from './wisp-policy.ts';

export interface WispServerOptions {
  /** Address to listen on. Default 127.0.0.1. */
  host?: string;
  /** TCP port; 0 (default) picks one. */
  port?: number;
  /** Accept WebSockets only on this path (e.g. '/wisp/'). Default: any path. */
  path?: string;
  /** Destinations clients may reach (`HOST:PORT` rules, wisp-policy.ts). Default: all but link-local and metadata. */
  allow?: readonly (string | WispRule)[];
  /** The per-stream buffer, in packets, advertised by CONTINUE. Default 32. */
  bufferPackets?: number;
  /** Streams one client may have open at once. Default 64. */
  maxStreams?: number;
  /** Clients at once; more are turned away (close code 1013). Default 64. */
  maxClients?: number;
  /** Largest WebSocket message accepted, bytes (larger ones close the client). Default 64 KiB + header. */
  maxPacketBytes?: number;
  /** Pause a client's TCP sockets while its WebSocket holds more than this many bytes unsent. Default 1 MiB. */
  maxBufferedBytes?: number;
  /** Give up a TCP connect after this long (CLOSE 0x43). Default 10000 ms. */
  connectTimeoutMs?: number;
  /** Close a UDP stream idle this long. Default 60000 ms. */
  udpIdleMs?: number;
  /** Name resolution (tests); default dns.lookup. Returns addresses, first preferred. */
  lookup?: (host: string) => Promise<string[]>;
  /** One line per client and per refused stream (for a CLI). */
  log?: (line: string) => void;
}

export interface WispServerStats {
  clients: number;
  rejectedClients: number;
  streamsOpened: number;
  /** CONNECTs answered with CLOSE before a socket was opened (invalid, blocked, throttled, unresolvable). */
  streamsRefused: number;
  packetsIn: number;
  packetsOut: number;
  /** Messages that were not a Wisp packet, or a packet a server never expects: dropped. */
  badPackets: number;
  /** DATA/CLOSE for a stream that is not open: dropped. */
  unknownStream: number;
  /** The most packets any stream's FIFO has held. */
  maxQueuedPackets: number;
  /** The most bytes any stream's FIFO has held. */
  maxQueuedBytes: number;
  /** Times a client's TCP sockets were paused because its WebSocket was full. */
  pauses: number;
  /** UDP datagrams dropped because the client's WebSocket was full. */
  udpDropped: number;
}

export interface WispServer {
  /** ws://host:port/ (with the path when one was set). */
  readonly url: string;
  readonly port: number;
  readonly stats: WispServerStats;
  readonly policy: WispPolicy;
  /** Streams open now, across clients. */
  readonly openStreams: number;
  /** DATA packets waiting in TCP streams' FIFOs now, across clients. */
  readonly queuedPackets: number;
  close(): Promise<void>;
}

interface TcpStream {
  readonly kind: 'tcp';
  readonly id: number;
  sock: net.Socket | undefined;
  connected: boolean;
  /** DATA packets the client may still send, as the server counts them. */
  credit: number;
  readonly fifo: Buffer[];
  fifoBytes: number;
  closed: boolean;
}

interface UdpStream {
  readonly kind: 'udp';
  readonly id: number;
  sock: dgram.Socket | undefined;
  idle: NodeJS.Timeout | undefined;
  /** The socket is connected to the destination. */
  ready: boolean;
  /** DATA that came before the socket was ready. */
  readonly early: Buffer[];
  closed: boolean;
}

type Stream = TcpStream | UdpStream;

function rawBytes(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}

/** The CLOSE reason for a socket error. */
function reasonFor(err: NodeJS.ErrnoException, connected: boolean): number {
  switch (err.code) {
    case 'ECONNREFUSED':
      return WispCloseReason.REFUSED;
    case 'ETIMEDOUT':
      return connected ? WispCloseReason.DATA_TIMEOUT : WispCloseReason.CONNECT_TIMEOUT;
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
    case 'EHOSTDOWN':
    case 'ENETDOWN':
      return WispCloseReason.UNREACHABLE;
    case 'EACCES':
    case 'EPERM':
      return WispCloseReason.BLOCKED;
    default:
      return WispCloseReason.NETWORK_ERROR;
  }
}

async function defaultLookup(host: string): Promise<string[]> {
  const r = await dnsLookup(host, { all: true });
  return r.map((a) => a.address);
}

/** Starts a Wisp server; resolves once it listens. */
export async function startWispServer(options: WispServerOptions = {}): Promise<WispServer> {
  const host = options.host ?? '127.0.0.1';
  const policy = new WispPolicy(options.allow ?? []);
  const bufferPackets = options.bufferPackets ?? 32;
  const maxStreams = options.maxStreams ?? 64;
  const maxClients = options.maxClients ?? 64;
  const maxPacketBytes = options.maxPacketBytes ?? 64 * 1024 + WISP_HEADER_LENGTH;
  const maxBuffered = options.maxBufferedBytes ?? 1 << 20;
  const connectTimeoutMs = options.connectTimeoutMs ?? 10_000;
  const udpIdleMs = options.udpIdleMs ?? 60_000;
  const lookup = options.lookup ?? defaultLookup;
  const log = options.log;
  if (!Number.isInteger(bufferPackets) || bufferPackets < 1 || bufferPackets > 0xffffffff)
    throw new RangeError(`wisp server: bufferPackets must be 1..2^32-1, got ${bufferPackets}`);
  const stats: WispServerStats = {
    clients: 0,
    rejectedClients: 0,
    streamsOpened: 0,
    streamsRefused: 0,
    packetsIn: 0,
    packetsOut: 0,
    badPackets: 0,
    unknownStream: 0,
    maxQueuedPackets: 0,
    maxQueuedBytes: 0,
    pauses: 0,
    udpDropped: 0,
  };
  const live = new Set<WebSocket>();
  let openStreams = 0;
  const tcpStreams = new Set<TcpStream>();

  const httpServer = http.createServer((_req, res) => {
    res.writeHead(426, { 'content-type': 'text/plain' });
    res.end('sockstack wisp server: connect with a WebSocket (Wisp v1)\n');
  });
  const wss = new WebSocketServer({ noServer: true, maxPayload: maxPacketBytes });
  httpServer.on('upgrade', (req, socket, head) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    if (options.path !== undefined && path !== options.path) {
      socket.end('HTTP/1.1 404 Not Found\r\nconnection: close\r\n\r\n');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
  });

  wss.on('connection', (ws: WebSocket, req: http.IncomingMessage) => {
    if (live.size >= maxClients) {
      stats.rejectedClients++;
      ws.close(1013, 'too many clients');
      return;
    }
    live.add(ws);
    stats.clients++;
    const who = `${req.socket.remoteAddress}:${req.socket.remotePort}`;
    log?.(`client ${who} connected`);
    const streams = new Map<number, Stream>();
    let paused = false;

    const send = (p: WispPacket): void => {
      if (ws.readyState !== ws.OPEN) return;
      stats.packetsOut++;
      ws.send(emitWispPacket(p), afterSend);
    };
    // Resumes the client's TCP sockets once its WebSocket has drained below half.
    const afterSend = (): void => {
      if (paused && ws.bufferedAmount < maxBuffered / 2) {
        paused = false;
        for (const s of streams.values()) if (s.kind === 'tcp') s.sock?.resume();
      }
    };
    const full = (): boolean => ws.bufferedAmount > maxBuffered;
    const pauseAll = (): void => {
      if (paused) return;
      paused = true;
      stats.pauses++;
      for (const s of streams.values()) if (s.kind === 'tcp') s.sock?.pause();
    };

    /** Ends a stream on the server side; `reason` is sent to the client unless undefined. */
    const finish = (s: Stream, reason: number | undefined): void => {
      if (s.closed) return;
      s.closed = true;
      if (streams.get(s.id) === s) streams.delete(s.id);
      openStreams--;
      if (reason !== undefined) send({ type: WISP_CLOSE, streamId: s.id, reason });
      if (s.kind === 'tcp') {
        tcpStreams.delete(s);
        s.fifo.length = 0;
        s.fifoBytes = 0;
        s.sock?.destroy();
      } else {
        if (s.idle) clearTimeout(s.idle);
        try {
          s.sock?.close();
        } catch {}
      }
    };

    const refuse = (id: number, reason: number, why: string): void => {
      stats.streamsRefused++;
      log?.(`client ${who}: stream ${id} refused: ${why}`);
      send({ type: WISP_CLOSE, streamId: id, reason });
    };

    // ---- TCP ------------------------------------------------------------------

    /** Grants credit when the client has spent its own and the FIFO has room (see the header). */
    const maybeGrant = (s: TcpStream): void => {
      if (s.closed || !s.connected || s.credit > 0 || s.fifo.length >= bufferPackets) return;
      s.credit = bufferPackets - s.fifo.length;
      send({ type: WISP_CONTINUE, streamId: s.id, bufferRemaining: s.credit });
    };

    /** Moves packets from the FIFO into the socket while its buffer is under the high-water mark. */
    const drainFifo = (s: TcpStream): void => {
      const sock = s.sock;
      if (!sock || !s.connected || s.closed) return;
      while (s.fifo.length > 0 && !sock.writableNeedDrain) {
        const b = s.fifo.shift()!;
        s.fifoBytes -= b.length;
        sock.write(b);
      }
      maybeGrant(s);
    };

    const openTcp = async (id: number, name: string, port: number): Promise<void> => {
      const s: TcpStream = {
        kind: 'tcp',
        id,
        sock: undefined,
        connected: false,
        credit: bufferPackets,
        fifo: [],
        fifoBytes: 0,
        closed: false,
      };
      streams.set(id, s);
      openStreams++;
      tcpStreams.add(s);
      const address = await resolveAllowed(s, name, port);
      if (address === undefined || s.closed) return;
      stats.streamsOpened++;
      const sock = net.connect({ host: address, port, allowHalfOpen: true });
      s.sock = sock;
      sock.setTimeout(connectTimeoutMs);
      sock.on('timeout', () => {
        if (!s.connected) finish(s, WispCloseReason.CONNECT_TIMEOUT);
      });
      sock.on('connect', () => {
        sock.setTimeout(0);
        s.connected = true;
        if (paused) sock.pause();
        // Tells the client the connection is established, with the credit it holds.
        send({ type: WISP_CONTINUE, streamId: id, bufferRemaining: s.credit });
        drainFifo(s);
      });
      sock.on('drain', () => drainFifo(s));
      sock.on('data', (chunk: Buffer) => {
        if (s.closed) return;
        for (let off = 0; off < chunk.length; off += maxPacketBytes - WISP_HEADER_LENGTH)
          send({
            type: WISP_DATA,
            streamId: id,
            payload: chunk.subarray(off, off + maxPacketBytes - WISP_HEADER_LENGTH),
          });
        if (full()) pauseAll();
      });
      // v1 has no half-close: the destination's FIN ends the stream (what the client queued is still written).
      sock.on('end', () => {
        if (s.closed) return;
        for (const b of s.fifo.splice(0)) sock.write(b);
        s.fifoBytes = 0;
        sock.end();
        s.sock = undefined;
        finish(s, WispCloseReason.VOLUNTARY);
      });
      sock.on('error', (err: NodeJS.ErrnoException) => finish(s, reasonFor(err, s.connected)));
      sock.on('close', () => finish(s, WispCloseReason.NETWORK_ERROR));
    };

    const dataTcp = (s: TcpStream, payload: Buffer): void => {
      s.credit = Math.max(0, s.credit - 1);
      s.fifo.push(payload);
      s.fifoBytes += payload.length;
      if (s.fifo.length > 2 * bufferPackets) {
        log?.(`client ${who}: stream ${s.id} sent beyond its credit`);
        finish(s, WispCloseReason.THROTTLED);
        return;
      }
      if (s.fifo.length > stats.maxQueuedPackets) stats.maxQueuedPackets = s.fifo.length;
      if (s.fifoBytes > stats.maxQueuedBytes) stats.maxQueuedBytes = s.fifoBytes;
      drainFifo(s);
    };

    // ---- UDP ------------------------------------------------------------------

    const openUdp = async (id: number, name: string, port: number): Promise<void> => {
      const s: UdpStream = {
        kind: 'udp',
        id,
        sock: undefined,
        idle: undefined,
        ready: false,
        early: [],
        closed: false,
      };
      streams.set(id, s);
      openStreams++;
      const address = await resolveAllowed(s, name, port);
      if (address === undefined || s.closed) return;
      stats.streamsOpened++;
      const sock = dgram.createSocket(net.isIPv6(address) ? 'udp6' : 'udp4');
      s.sock = sock;
      const touch = (): void => {
        if (s.idle) clearTimeout(s.idle);
        s.idle = setTimeout(() => finish(s, WispCloseReason.VOLUNTARY), udpIdleMs);
        s.idle.unref();
      };
      sock.on('message', (msg) => {
        if (s.closed) return;
        touch();
        if (full()) {
          stats.udpDropped++;
          return;
        }
        send({ type: WISP_DATA, streamId: id, payload: msg });
      });
      // On a connected UDP socket an ICMP port unreachable comes back as ECONNREFUSED.
      sock.on('error', (err: NodeJS.ErrnoException) => finish(s, reasonFor(err, true)));
      sock.connect(port, address, () => {
        if (s.closed) return;
        s.ready = true;
        touch();
        for (const b of s.early.splice(0)) sock.send(b);
      });
    };

    const dataUdp = (s: UdpStream, payload: Buffer): void => {
      if (!s.sock || !s.ready) {
        if (s.early.length < bufferPackets) s.early.push(payload);
        return;
      }
      s.sock.send(payload);
    };

    /** Resolves `name` and checks the policy; on failure sends the CLOSE and returns undefined. */
    const resolveAllowed = async (s: Stream, name: string, port: number): Promise<string | undefined> => {
      let addresses: string[];
      if (net.isIP(name) !== 0) addresses = [name];
      else {
        // A name rule can refuse before any lookup.
        try {
          addresses = await lookup(name);
        } catch {
          addresses = [];
        }
        if (s.closed) return undefined;
        if (addresses.length === 0) {
          finish(s, undefined);
          refuse(s.id, WispCloseReason.UNREACHABLE, `${name} does not resolve`);
          return undefined;
        }
      }
      const ok = addresses.find((a) => policy.allows(name, a, port));
      if (ok === undefined) {
        finish(s, undefined);
        refuse(s.id, WispCloseReason.BLOCKED, `${name}:${port} is not allowed (${policy.describe()})`);
        return undefined;
      }
      return ok;
    };

    // ---- packets ----------------------------------------------------------------

    /** Why a CONNECT cannot be served (spec: "it must validate this information"), or undefined. */
    const connectProblem = (p: WispPacket & { type: typeof WISP_CONNECT }): [number, string] | undefined => {
      if (p.streamId === 0 || streams.has(p.streamId))
        return [WispCloseReason.INVALID, `stream id ${p.streamId} is reserved or in use`];
      if (p.streamType !== WISP_STREAM_TCP && p.streamType !== WISP_STREAM_UDP)
        return [WispCloseReason.INVALID, `stream type 0x${p.streamType.toString(16)}`];
      if (
        p.port === 0 ||
        p.hostname.length === 0 ||
        p.hostname.length > 253 ||
        /[\0-\x20/\\]/.test(p.hostname)
      )
        return [WispCloseReason.INVALID, `destination ${JSON.stringify(p.hostname)}:${p.port}`];
      if (streams.size >= maxStreams)
        return [WispCloseReason.THROTTLED, `already ${maxStreams} streams open`];
      return undefined;
    };

    const onPacket = (p: WispPacket): void => {
      if (p.type === WISP_CONNECT) {
        const id = p.streamId;
        const problem = connectProblem(p);
        if (problem !== undefined) {
          refuse(id, problem[0], problem[1]);
          return;
        }
        void (p.streamType === WISP_STREAM_TCP ? openTcp : openUdp)(id, p.hostname, p.port);
        return;
      }
      const s = streams.get(p.streamId);
      if (p.type === WISP_CONTINUE || (p.streamId === 0 && p.type !== WISP_CLOSE)) {
        stats.badPackets++; // a client never sends CONTINUE; stream 0 carries no data
        return;
      }
      if (p.type === WISP_CLOSE && p.streamId === 0) {
        for (const t of [...streams.values()]) finish(t, undefined);
        return;
      }
      if (s === undefined) {
        stats.unknownStream++;
        return;
      }
      if (p.type === WISP_DATA) {
        // ws hands each message its own Buffer: keep a view of it.
        const payload = p.payload as Buffer;
        if (s.kind === 'tcp') dataTcp(s, payload);
        else dataUdp(s, payload);
        return;
      }
      // CLOSE from the client.
      if (s.kind === 'tcp' && s.sock && s.connected && p.reason === WispCloseReason.VOLUNTARY) {
        const sock = s.sock;
        for (const b of s.fifo.splice(0)) sock.write(b);
        s.fifoBytes = 0;
        sock.end();
        s.sock = undefined;
        finish(s, undefined);
        sock.resume(); // what the destination still sends is read and dropped until it closes
        return;
      }
      if (s.kind === 'tcp' && s.sock?.readyState === 'open') s.sock.resetAndDestroy();
      finish(s, undefined);
    };

    ws.on('message', (data: RawData, isBinary: boolean) => {
      if (!isBinary) {
        stats.badPackets++;
        return;
      }
      const raw = rawBytes(data);
      const p = parseWispPacket(new Uint8Array(raw.buffer, raw.byteOffset, raw.byteLength));
      if (isWireError(p)) {
        stats.badPackets++;
        return;
      }
      stats.packetsIn++;
      if (p.type === WISP_DATA) onPacket({ ...p, payload: raw.subarray(WISP_HEADER_LENGTH) });
      else onPacket(p);
    });
    ws.on('close', () => {
      live.delete(ws);
      for (const s of [...streams.values()]) {
        // As when a process dies: the socket is closed (a FIN, or the kernel's RST if data sat unread).
        finish(s, undefined);
      }
      log?.(`client ${who} left`);
    });
    ws.on('error', () => {});
    // Spec: the initial CONTINUE, stream id 0, with the buffer size of every stream.
    send({ type: WISP_CONTINUE, streamId: 0, bufferRemaining: bufferPackets });
  });

  await new Promise<void>((resolve, reject) => {
    httpServer.once('error', reject);
    httpServer.listen(options.port ?? 0, host, () => {
      httpServer.off('error', reject);
      resolve();
    });
  });
  const port = (httpServer.address() as AddressInfo).port;
  const shown = net.isIPv6(host) ? `[${host}]` : host;
  return {
    url: `ws://${shown}:${port}${options.path ?? '/'}`,
    port,
    stats,
    policy,
    get openStreams() {
      return openStreams;
    },
    get queuedPackets() {
      let n = 0;
      for (const s of tcpStreams) n += s.fifo.length;
      return n;
    },
    async close() {
      for (const ws of live) ws.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      await new Promise<void>((resolve) => httpServer.close(() => resolve()));
    },
  };
}
