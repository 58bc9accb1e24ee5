/**
 * A UDP tunnel: stacks in different processes or machines share one virtual
 * Ethernet (or IP) link. Each frame travels in one UDP datagram behind a 4-byte
 * header:
 *
 *   0      1      2         3
 *   'S'    'S'    version   link type (1 = Ethernet, 2 = IP)
 *
 * With several peers the tunnel behaves like a learning hub: a unicast Ethernet
 * frame goes to the peer its destination MAC was last seen from, anything else
 * (broadcast, multicast, unknown destination, or IP link type) goes to every peer.
 * Datagrams that are too short, carry the wrong magic, version or link type, or
 * come from an address that is not a peer (unless `learnPeers`) are dropped and
 * counted.
 *
 * There is no encryption or authentication: use it on trusted networks, or
 * inside a VPN/SSH tunnel.
 */
import * as dgram from 'node:dgram';
import * as net from 'node:net';
import type { LinkType } from '../link/device.ts';
import { type LinkStats, newLinkStats, type SocketLink } from './qemu-link.ts';

export const TUNNEL_MAGIC_0 = 0x53; // 'S'
export const TUNNEL_MAGIC_1 = 0x53; // 'S'
export const TUNNEL_VERSION = 1;
export const TUNNEL_HEADER_LEN = 4;
const LINK_CODE: Record<LinkType, number> = { ethernet: 1, ip: 2 };
/** Largest UDP payload over IPv4, minus our header. */
export const TUNNEL_MAX_FRAME = 65507 - TUNNEL_HEADER_LEN;
/** Bound on the MAC table; it is cleared when full (frames then flood until relearnt). */
const MAX_MACS = 4096;

export interface TunnelPeer {
  host: string;
  port: number;
}

export interface UdpTunnelOptions {
  name?: string;
  linkType?: LinkType;
  mtu?: number;
  /** Local address; default 127.0.0.1 (pass 0.0.0.0 or :: to accept from other machines). */
  host?: string;
  /** Local port; 0 (default) picks one. */
  port?: number;
  peers?: readonly TunnelPeer[];
  /** Accept datagrams from addresses that are not peers, and add them as peers. Default false. */
  learnPeers?: boolean;
}

export interface UdpTunnelStats extends LinkStats {
  tooShort: number;
  badMagic: number;
  badVersion: number;
  badLinkType: number;
  unknownPeer: number;
}

function peerKey(host: string, port: number): string {
  return `${host}|${port}`;
}

function macKey(b: Uint8Array, off: number): number {
  return (
    b[off] * 0x10000000000 +
    b[off + 1] * 0x100000000 +
    ((b[off + 2] << 24) >>> 0) +
    ((b[off + 3] << 16) | (b[off + 4] << 8) | b[off + 5])
  );
}

export class UdpTunnel implements SocketLink {
  readonly name: string;
  readonly linkType: LinkType;
  readonly mtu: number;
  readonly stats: UdpTunnelStats = {
    ...newLinkStats(),
    tooShort: 0,
    badMagic: 0,
    badVersion: 0,
    badLinkType: 0,
    unknownPeer: 0,
  };
  readonly socket: dgram.Socket;
  onReceive: ((frame: Uint8Array) => void) | null = null;
  onClose: ((err?: Error) => void) | null = null;
  readonly learnPeers: boolean;
  #header: Buffer;
  #peers = new Map<string, TunnelPeer>();
  #macs = new Map<number, TunnelPeer>();
  #closed = false;
  #closedPromise: Promise<void>;

  constructor(socket: dgram.Socket, options: UdpTunnelOptions = {}) {
    this.socket = socket;
    this.name = options.name ?? 'tun0';
    this.linkType = options.linkType ?? 'ethernet';
    this.mtu = options.mtu ?? 1500;
    this.learnPeers = options.learnPeers ?? false;
    this.#header = Buffer.from([TUNNEL_MAGIC_0, TUNNEL_MAGIC_1, TUNNEL_VERSION, LINK_CODE[this.linkType]]);
    for (const p of options.peers ?? []) this.addPeer(p);
    socket.on('message', (msg: Buffer, rinfo: dgram.RemoteInfo) => this.#onMessage(msg, rinfo));
    socket.on('error', () => {
      this.stats.txDropped++;
    });
    this.#closedPromise = new Promise((resolve) => {
      socket.once('close', () => {
        const first = !this.#closed;
        this.#closed = true;
        if (first) this.onClose?.();
        resolve();
      });
    });
  }

  get closed(): boolean {
    return this.#closed;
  }

  get localPort(): number {
    return this.socket.address().port;
  }

  get peers(): TunnelPeer[] {
    return [...this.#peers.values()];
  }

  addPeer(peer: TunnelPeer): void {
    const p = { host: peer.host, port: peer.port };
    this.#peers.set(peerKey(p.host, p.port), p);
  }

  removePeer(peer: TunnelPeer): boolean {
    const k = peerKey(peer.host, peer.port);
    const p = this.#peers.get(k);
    if (!p) return false;
    this.#peers.delete(k);
    for (const [mac, q] of this.#macs) if (q === p) this.#macs.delete(mac);
    return true;
  }

  #onMessage(msg: Buffer, rinfo: dgram.RemoteInfo): void {
    const st = this.stats;
    const minFrame = this.linkType === 'ethernet' ? 14 : 1;
    if (msg.length < TUNNEL_HEADER_LEN + minFrame) {
      st.tooShort++;
      st.rxErrors++;
      return;
    }
    if (msg[0] !== TUNNEL_MAGIC_0 || msg[1] !== TUNNEL_MAGIC_1) {
      st.badMagic++;
      st.rxErrors++;
      return;
    }
    if (msg[2] !== TUNNEL_VERSION) {
      st.badVersion++;
      st.rxErrors++;
      return;
    }
    if (msg[3] !== this.#header[3]) {
      st.badLinkType++;
      st.rxErrors++;
      return;
    }
    const key = peerKey(rinfo.address, rinfo.port);
    let peer = this.#peers.get(key);
    if (peer === undefined) {
      if (!this.learnPeers) {
        st.unknownPeer++;
        st.rxErrors++;
        return;
      }
      peer = { host: rinfo.address, port: rinfo.port };
      this.#peers.set(key, peer);
    }
    const frame = new Uint8Array(
      msg.buffer,
      msg.byteOffset + TUNNEL_HEADER_LEN,
      msg.length - TUNNEL_HEADER_LEN,
    );
    if (this.linkType === 'ethernet' && (frame[6] & 1) === 0) {
      // Learn where the source MAC lives (never from a multicast/broadcast source).
      const macs = this.#macs;
      if (macs.size >= MAX_MACS) macs.clear();
      macs.set(macKey(frame, 6), peer);
    }
    st.rxFrames++;
    st.rxBytes += frame.length;
    const rx = this.onReceive;
    if (rx === null || this.#closed) st.rxNoHandler++;
    else rx(frame);
  }

  transmit(frame: Uint8Array): void {
    const st = this.stats;
    if (this.#closed || frame.length > TUNNEL_MAX_FRAME || this.#peers.size === 0) {
      st.txDropped++;
      return;
    }
    const body = Buffer.from(frame.buffer, frame.byteOffset, frame.length);
    if (this.linkType === 'ethernet' && frame.length >= 6 && (frame[0] & 1) === 0) {
      const p = this.#macs.get(macKey(frame, 0));
      if (p !== undefined) {
        this.#send(body, p);
        return;
      }
    }
    for (const p of this.#peers.values()) this.#send(body, p);
  }

  #send(body: Buffer, p: TunnelPeer): void {
    const st = this.stats;
    st.txFrames++;
    st.txBytes += body.length;
    this.socket.send([this.#header, body], p.port, p.host, (err) => {
      if (err) {
        st.txFrames--;
        st.txBytes -= body.length;
        st.txDropped++;
      }
    });
  }

  close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      this.onReceive = null;
      const h = this.onClose;
      this.onClose = null;
      if (h) h();
      this.socket.close();
    }
    return this.#closedPromise;
  }
}

/** Binds a UDP socket and returns the tunnel endpoint. */
export function udpTunnel(options: UdpTunnelOptions = {}): Promise<UdpTunnel> {
  return new Promise((resolve, reject) => {
    const host = options.host ?? '127.0.0.1';
    const socket = dgram.createSocket({ type: net.isIPv6(host) ? 'udp6' : 'udp4' });
    socket.once('error', reject);
    socket.bind(options.port ?? 0, host, () => {
      socket.off('error', reject);
      resolve(new UdpTunnel(socket, options));
    });
  });
}
