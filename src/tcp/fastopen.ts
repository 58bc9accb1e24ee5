/**
 * TCP Fast Open (RFC 7413), as Linux runs it (net/ipv4/tcp_fastopen.c): the server's keyed
 * cookies, the client's cookie cache per destination, and the decisions each side takes on
 * the SYN and the SYN-ACK. The segments themselves are built in output.ts (sendSyn) and
 * taken apart in listen.ts (a SYN) and input.ts (a SYN-ACK).
 */
import type { Rng } from '../rand/rng.ts';
import type { IpAddress } from '../wire/address.ts';
import { formatIp } from '../wire/address.ts';
import type { TcpOptions } from '../wire/tcp.ts';
import { randomSipKey, type SipKey, siphash24, sipKey } from './siphash.ts';

/** net.ipv4.tcp_fastopen bits (Linux include/net/tcp.h). */
export const TFO_CLIENT_ENABLE = 0x1;
export const TFO_SERVER_ENABLE = 0x2;
/** The client sends data in its SYN without a cookie. */
export const TFO_CLIENT_NO_COOKIE = 0x4;
/** The server takes data in a SYN without (or with any) cookie. */
export const TFO_SERVER_COOKIE_NOT_REQD = 0x200;
/** Every listener does Fast Open, its queue bound the listen() backlog, without TCP_FASTOPEN. */
export const TFO_SERVER_WO_SOCKOPT1 = 0x400;

/** Linux TCP_FASTOPEN_COOKIE_SIZE: the cookie the server makes (SipHash-2-4, 64 bits). */
export const TCP_FASTOPEN_COOKIE_SIZE = 8;

/** A Fast Open option as carried: an empty cookie asks for one (RFC 7413 §4.1.1). */
export type FastOpenOption = NonNullable<TcpOptions['fastOpen']>;

/** What the client remembers about one server (Linux tcp_metrics' tcp_fastopen_metrics). */
export interface FastOpenCacheEntry {
  /** The server's MSS from its SYN-ACK (0: not known). */
  mss: number;
  /** The cookie last received (undefined: none). */
  cookie: FastOpenOption | undefined;
  /**
   * A cookie request went unanswered: 1 asks next time with the experimental option, 2 goes
   * back to the RFC option (Linux try_exp).
   */
  tryExp: number;
}

/** The layer's Fast Open state: the server key and the client's cookie cache. */
export class FastOpen {
  /** Drawn from the Rng when first needed, so a layer that never serves Fast Open draws nothing. */
  #key: SipKey | undefined;
  readonly #rng: Rng;
  readonly #cache = new Map<string, FastOpenCacheEntry>();
  readonly #out = new Uint32Array(2);

  constructor(rng: Rng, key: Uint8Array | undefined) {
    this.#rng = rng;
    this.#key = key ? sipKey(key) : undefined;
  }

  /** Replaces the server key (net.ipv4.tcp_fastopen_key, TCP_FASTOPEN_KEY): old cookies stop working. */
  setKey(key: Uint8Array): void {
    this.#key = sipKey(key);
  }

  /**
   * The cookie for a client at `client` talking to our `server` address: Linux
   * __tcp_fastopen_cookie_gen_cipher, SipHash-2-4 over the IP header's source and destination
   * addresses, as a little-endian 64-bit value (RFC 7413 §4.1.2: "The server ... generates
   * a cookie by encrypting (or hashing) the client's IP address").
   */
  cookie(client: IpAddress, server: IpAddress): Uint8Array {
    const data = new Uint8Array(client.family === 4 ? 8 : 32);
    if (client.family === 4 && server.family === 4) {
      putV4(data, 0, client.v4);
      putV4(data, 4, server.v4);
    } else if (client.family === 6 && server.family === 6) {
      data.set(client.v6, 0);
      data.set(server.v6, 16);
    }
    this.#key ??= randomSipKey(this.#rng);
    const h = siphash24(this.#key, data, this.#out);
    const out = new Uint8Array(TCP_FASTOPEN_COOKIE_SIZE);
    putLe32(out, 0, h[0]!);
    putLe32(out, 4, h[1]!);
    return out;
  }

  /** RFC 7413 §4.1.2: "the server ... verifies the cookie" (Linux tcp_fastopen_cookie_gen_check). */
  valid(cookie: Uint8Array, client: IpAddress, server: IpAddress): boolean {
    if (cookie.length !== TCP_FASTOPEN_COOKIE_SIZE) return false;
    const want = this.cookie(client, server);
    let diff = 0;
    for (let i = 0; i < want.length; i++) diff |= want[i]! ^ cookie[i]!;
    return diff === 0;
  }

  /** The client's cache entry for a server (RFC 7413 §4.1.3: cached per server IP address). */
  cached(server: IpAddress): FastOpenCacheEntry | undefined {
    return this.#cache.get(formatIp(server));
  }

  /**
   * Records what a SYN-ACK taught (Linux tcp_fastopen_cache_set): the MSS, a new cookie, or
   * that a cookie request went unanswered (tryExp).
   */
  remember(server: IpAddress, mss: number, cookie: FastOpenOption | undefined, tryExp: number): void {
    const k = formatIp(server);
    let e = this.#cache.get(k);
    if (!e) {
      e = { mss: 0, cookie: undefined, tryExp: 0 };
      this.#cache.set(k, e);
    }
    if (mss) e.mss = mss;
    if (cookie && cookie.cookie.length > 0) e.cookie = cookie;
    else if (tryExp > e.tryExp && !e.cookie) e.tryExp = tryExp;
  }

  /** Forgets every cached cookie (`ip tcp_metrics flush`). */
  flushCache(): void {
    this.#cache.clear();
  }
}

function putV4(b: Uint8Array, at: number, v: number): void {
  b[at] = v >>> 24;
  b[at + 1] = (v >>> 16) & 0xff;
  b[at + 2] = (v >>> 8) & 0xff;
  b[at + 3] = v & 0xff;
}

function putLe32(b: Uint8Array, at: number, v: number): void {
  b[at] = v & 0xff;
  b[at + 1] = (v >>> 8) & 0xff;
  b[at + 2] = (v >>> 16) & 0xff;
  b[at + 3] = v >>> 24;
}

/**
 * The Fast Open option a client's first SYN carries, and whether data may ride on it (Linux
 * tcp_fastopen_cookie_check): a cached cookie (with data), none with data under
 * TFO_CLIENT_NO_COOKIE or TCP_FASTOPEN_NO_COOKIE, else a cookie request (RFC 7413 §4.1.3),
 * in the experimental form when the RFC form went unanswered before.
 */
export function clientSynCookie(
  entry: FastOpenCacheEntry | undefined,
  noCookie: boolean,
): { option: FastOpenOption | undefined; data: boolean } {
  if (noCookie) return { option: undefined, data: true };
  if (entry?.cookie && entry.cookie.cookie.length > 0) return { option: entry.cookie, data: true };
  const experimental = entry?.tryExp === 1;
  return { option: experimental ? { cookie: EMPTY, experimental } : { cookie: EMPTY }, data: false };
}

const EMPTY = new Uint8Array(0);
