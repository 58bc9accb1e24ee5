/** A Dialer for simulation tests: host streams and datagram sockets the test controls. */
import type { Dialer, HostDatagram, HostPinger, HostStream } from '../../src/gateway/dialer.ts';

export class FakeStream implements HostStream {
  readonly host: string;
  readonly port: number;
  readonly chunks: Uint8Array[] = [];
  /** Bytes written and not yet "taken" by the host peer (back-pressure when over highWater). */
  buffered = 0;
  highWater = Number.POSITIVE_INFINITY;
  ended = false;
  destroyed = false;
  paused = false;
  onData: ((data: Uint8Array) => void) | undefined;
  onEnd: (() => void) | undefined;
  onDrain: (() => void) | undefined;
  onClose: ((err?: Error & { code?: string }) => void) | undefined;
  constructor(host: string, port: number) {
    this.host = host;
    this.port = port;
  }
  write(data: Uint8Array): boolean {
    this.chunks.push(data.slice());
    this.buffered += data.length;
    return this.buffered < this.highWater;
  }
  end(): void {
    this.ended = true;
  }
  destroy(): void {
    this.destroyed = true;
  }
  pause(): void {
    this.paused = true;
  }
  resume(): void {
    this.paused = false;
  }
  /** Everything written so far, as one array. */
  received(): Uint8Array {
    const n = this.chunks.reduce((a, c) => a + c.length, 0);
    const out = new Uint8Array(n);
    let at = 0;
    for (const c of this.chunks) {
      out.set(c, at);
      at += c.length;
    }
    return out;
  }
  /** The host peer read everything: drain. */
  drain(): void {
    this.buffered = 0;
    this.onDrain?.();
  }
}

export class FakeDatagram implements HostDatagram {
  readonly sent: { data: Uint8Array; host: string; port: number }[] = [];
  closed = false;
  onMessage: ((data: Uint8Array, host: string, port: number) => void) | undefined;
  send(data: Uint8Array, host: string, port: number): void {
    this.sent.push({ data: data.slice(), host, port });
  }
  close(): void {
    this.closed = true;
  }
}

export class FakeDialer implements Dialer {
  readonly calls: string[] = [];
  readonly streams: FakeStream[] = [];
  readonly datagrams: FakeDatagram[] = [];
  /** The families openDatagram was asked for, in order. */
  readonly datagramFamilies: (4 | 6)[] = [];
  pinger: HostPinger | undefined;
  /** Ports that refuse (ECONNREFUSED). */
  refuse = new Set<number>([9]);
  connect(host: string, port: number): Promise<HostStream> {
    this.calls.push(`${host}:${port}`);
    if (this.refuse.has(port))
      return Promise.reject(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }));
    const s = new FakeStream(host, port);
    this.streams.push(s);
    return Promise.resolve(s);
  }
  openDatagram(family: 4 | 6 = 4): HostDatagram {
    this.datagramFamilies.push(family);
    const d = new FakeDatagram();
    this.datagrams.push(d);
    return d;
  }
}

/**
 * A HostPinger for simulation tests: each host answers with a TTL, stays silent, or the
 * host cannot ping at all (`code`). Calls are recorded.
 */
export class FakePinger implements HostPinger {
  readonly calls: { family: 4 | 6; host: string; data: Uint8Array }[] = [];
  /** host → the TTL its reply arrives with at the host; hosts not listed never answer. */
  readonly answers = new Map<string, number>();
  /** Set: the host has no ping sockets (echo rejects with this code, available() is false after). */
  code: string | undefined;
  #learnt = false;
  closed = false;
  available(_family: 4 | 6): boolean | undefined {
    if (this.code === undefined) return true;
    return this.#learnt ? false : undefined;
  }
  echo(family: 4 | 6, host: string, data: Uint8Array): Promise<{ ttl: number } | undefined> {
    this.calls.push({ family, host, data: data.slice() });
    if (this.code !== undefined) {
      this.#learnt = true;
      return Promise.reject(Object.assign(new Error(this.code), { code: this.code }));
    }
    const ttl = this.answers.get(host);
    return ttl === undefined ? new Promise(() => {}) : Promise.resolve({ ttl });
  }
  close(): void {
    this.closed = true;
  }
}
