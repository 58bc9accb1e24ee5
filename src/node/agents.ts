/**
 * Plugging Node's HTTP clients into a sockstack host:
 *
 * - node:http  — `new StackHttpAgent(net, { keepAlive: true })` (an http.Agent whose
 *   sockets are StackSockets; keep-alive pooling works because StackSocket has
 *   setKeepAlive/ref/unref), or `{ createConnection: httpCreateConnection(net) }`
 *   per request.
 * - node:https — `new StackHttpsAgent(net, { ca })`: TLS over a StackSocket
 *   (`tls.connect({ socket })`).
 * - undici     — `stackDispatcher(net, { Agent, connect: { ca } })` is an undici Agent
 *   usable as `fetch(url, { dispatcher })`; `undiciConnector(net)` is its `connect`
 *   function. It calls back asynchronously (after the handshake): undici >= 7.16
 *   hangs on a synchronous callback (research notes §1.2). `await stackFetch(net)`
 *   gives a ready fetch + dispatcher pair (the `undici` package where it runs, Node's
 *   built-in undici on Node 20, where undici 8 does not load).
 * - ws         — `new WebSocket(url, { createConnection: wsCreateConnection(net) })`.
 *
 * Host names resolve through the stack's hosts table (`stack.hosts`), IP literals
 * directly.
 */

import http from 'node:http';
import https from 'node:https';
import { createRequire } from 'node:module';
import type { createConnection as netCreateConnection } from 'node:net';
import type { Duplex } from 'node:stream';
import tls from 'node:tls';
import type { Dispatcher, Agent as UndiciAgent } from 'undici';
import type { StackSocket } from './net-adapter.ts';
import type { StackNet } from './net-facade.ts';

type ConnectArgs = { host?: string | null; hostname?: string | null; port?: number | string | null };

function hostOf(o: ConnectArgs, fallback = 'localhost'): string {
  const h = o.host ?? o.hostname ?? fallback;
  // URLs give IPv6 literals in brackets.
  return h.startsWith('[') && h.endsWith(']') ? h.slice(1, -1) : h;
}

function portOf(o: ConnectArgs, fallback: number): number {
  const p = o.port === undefined || o.port === null || o.port === '' ? fallback : Number(o.port);
  return p;
}

/** A `createConnection(options, cb)` for http.request / http.Agent over the stack. */
export function httpCreateConnection(net: StackNet) {
  return (options: http.ClientRequestArgs & { timeout?: number }): StackSocket =>
    net.connect({
      host: hostOf(options),
      port: portOf(options, 80),
      localAddress: options.localAddress,
      timeout: options.timeout,
    });
}

/** An http.Agent that opens its sockets on a sockstack host. */
export class StackHttpAgent extends http.Agent {
  readonly net: StackNet;
  constructor(net: StackNet, options?: http.AgentOptions) {
    super(options);
    this.net = net;
  }
  override createConnection(
    options: http.ClientRequestArgs,
    _cb?: (err: Error | null, socket: Duplex) => void,
  ): Duplex {
    return httpCreateConnection(this.net)(options);
  }
}

/** TLS client over a StackSocket (`tls.connect({ socket })`), SNI from the host name. */
export function tlsOverStack(
  net: StackNet,
  options: tls.ConnectionOptions & { host?: string; port?: number },
): tls.TLSSocket {
  const host = hostOf(options);
  const socket = net.connect({ host, port: portOf(options, 443), timeout: options.timeout });
  const servername = options.servername ?? (isIpLiteral(host) ? undefined : host);
  const opts: tls.ConnectionOptions = { ...options, socket };
  delete (opts as { host?: string }).host;
  delete (opts as { port?: number }).port;
  if (servername !== undefined) opts.servername = servername;
  const t = tls.connect(opts);
  // A failure of the TCP connection (refused, reset) surfaces on the TLS socket.
  socket.once('error', (err) => {
    if (!t.destroyed) t.destroy(err);
  });
  return t;
}

function isIpLiteral(h: string): boolean {
  return /^\d+\.\d+\.\d+\.\d+$/.test(h) || h.includes(':');
}

/** An https.Agent whose TLS sockets run over a sockstack host. */
export class StackHttpsAgent extends https.Agent {
  readonly net: StackNet;
  constructor(net: StackNet, options?: https.AgentOptions) {
    super(options);
    this.net = net;
  }
  override createConnection(
    options: http.ClientRequestArgs & tls.ConnectionOptions,
    _cb?: (err: Error | null, socket: Duplex) => void,
  ): Duplex {
    return tlsOverStack(this.net, { ...(options as tls.ConnectionOptions), host: hostOf(options) });
  }
}

// ------------------------------------------------------------------ undici

/** The subset of undici's connector options we use (undici `buildConnector.Options`). */
export interface UndiciConnectParams {
  hostname: string;
  host?: string;
  protocol: string;
  port: string;
  servername?: string;
  localAddress?: string | null;
}

type UndiciCallback = (...args: [null, Duplex] | [Error, null]) => void;

/**
 * An undici `connect` function over the stack. For `https:` it wraps the StackSocket
 * in TLS (`tlsOptions`: ca, rejectUnauthorized, ...; ALPN http/1.1). Calls back only
 * once connected (always asynchronously).
 */
export function undiciConnector(net: StackNet, tlsOptions: tls.ConnectionOptions = {}) {
  return (opts: UndiciConnectParams, callback: UndiciCallback): void => {
    const host = hostOf({ hostname: opts.hostname });
    const secure = opts.protocol === 'https:';
    const port = portOf({ port: opts.port }, secure ? 443 : 80);
    let done = false;
    const finish = (err: Error | null, sock: Duplex | null): void => {
      if (done) return;
      done = true;
      // Always on a later tick: a synchronous callback hangs undici >= 7.16.
      process.nextTick(() => {
        if (err) callback(err, null);
        else callback(null, sock as Duplex);
      });
    };
    if (secure) {
      const t = tlsOverStack(net, {
        ALPNProtocols: ['http/1.1'],
        ...tlsOptions,
        host,
        port,
        servername: opts.servername ?? tlsOptions.servername,
      });
      const onErr = (e: Error): void => finish(e, null);
      t.once('error', onErr);
      t.once('secureConnect', () => {
        t.removeListener('error', onErr);
        finish(null, t);
      });
      return;
    }
    const sock = net.connect({ host, port, localAddress: opts.localAddress ?? undefined });
    const onErr = (e: Error): void => finish(e, null);
    sock.once('error', onErr);
    sock.once('connect', () => {
      sock.removeListener('error', onErr);
      finish(null, sock);
    });
  };
}

/** The constructor of an undici Agent (from the `undici` package or Node's built-in fetch). */
export type UndiciAgentClass = new (options: { connect?: unknown; [k: string]: unknown }) => Dispatcher;

export interface StackDispatcherOptions extends Omit<UndiciAgent.Options, 'connect'> {
  /** The Agent class to instantiate, e.g. `import { Agent } from 'undici'`. */
  Agent: UndiciAgentClass;
  /** TLS options for https: origins (ca, rejectUnauthorized, servername, ...). */
  connect?: tls.ConnectionOptions;
}

/**
 * An undici Agent whose connections run over the stack, for `fetch(url, { dispatcher })`
 * with the fetch of the same undici. Pass the Agent class (`import { Agent } from 'undici'`);
 * `stackFetch` finds one for you.
 */
export function stackDispatcher(net: StackNet, options: StackDispatcherOptions): Dispatcher {
  const { connect, Agent, ...rest } = options;
  return new Agent({ ...rest, connect: undiciConnector(net, connect) });
}

export interface StackFetch {
  /** fetch bound to the stack's dispatcher (same undici as the dispatcher). */
  fetch: typeof globalThis.fetch;
  dispatcher: Dispatcher;
  /** Which undici: the `undici` package, or the one inside Node's global fetch. */
  impl: 'undici' | 'builtin';
  close(): Promise<void>;
}

const GLOBAL_DISPATCHER = Symbol.for('undici.globalDispatcher.1');

/** Whether the installed `undici` package's engines.node admits this Node (">=a.b.c" only). */
function undiciPackageRuns(): boolean {
  let engines: string | undefined;
  try {
    const req = createRequire(import.meta.url);
    engines = (req('undici/package.json') as { engines?: { node?: string } }).engines?.node;
  } catch {
    return false;
  }
  const m = engines === undefined ? null : /^>=\s*(\d+)(?:\.(\d+))?(?:\.(\d+))?$/.exec(engines.trim());
  if (!m) return true;
  const want = [Number(m[1]), Number(m[2] ?? 0), Number(m[3] ?? 0)];
  const have = process.versions.node.split('.').map(Number);
  for (let i = 0; i < 3; i++) {
    if (have[i] !== want[i]) return have[i] > want[i];
  }
  return true;
}

/**
 * A fetch over the stack. Uses the `undici` package when it loads on this Node (undici 8
 * needs Node >= 22.19: on Node 20 it throws at import, `zlib.createZstdDecompress` missing),
 * otherwise the undici bundled in Node's global fetch, whose Agent class is reached through
 * its global dispatcher.
 */
export async function stackFetch(
  net: StackNet,
  options: Omit<StackDispatcherOptions, 'Agent'> = {},
): Promise<StackFetch> {
  let Agent: UndiciAgentClass | undefined;
  let fetchFn: typeof globalThis.fetch | undefined;
  let impl: StackFetch['impl'] = 'undici';
  try {
    // Do not even try an undici this Node is too old for: a failed import still runs its
    // global.js, which replaces the built-in fetch's global dispatcher.
    if (!undiciPackageRuns()) throw new Error('undici package needs a newer Node');
    const m = (await import('undici')) as unknown as {
      Agent: UndiciAgentClass;
      fetch: typeof globalThis.fetch;
    };
    Agent = m.Agent;
    fetchFn = m.fetch;
  } catch {
    impl = 'builtin';
    const g = globalThis as unknown as Record<symbol, { constructor: UndiciAgentClass } | undefined>;
    // The built-in undici creates its global dispatcher on first use.
    if (!g[GLOBAL_DISPATCHER]) await (await globalThis.fetch('data:,')).arrayBuffer();
    const d = g[GLOBAL_DISPATCHER];
    if (!d) throw new Error('stackFetch: no undici available (neither the package nor the built-in fetch)');
    Agent = d.constructor;
    fetchFn = globalThis.fetch;
  }
  const dispatcher = stackDispatcher(net, { ...options, Agent });
  const f = fetchFn;
  const boundFetch = ((input: Parameters<typeof fetch>[0], init?: RequestInit) =>
    f(input, { ...init, dispatcher } as RequestInit)) as typeof globalThis.fetch;
  return { fetch: boundFetch, dispatcher, impl, close: () => dispatcher.close() };
}

// ------------------------------------------------------------------ ws

/**
 * ws client `createConnection` option: `new WebSocket('ws://server/x', { createConnection:
 * wsCreateConnection(net) })`. For wss: it wraps the stack socket in TLS with ws's TLS options.
 */
export function wsCreateConnection(net: StackNet): typeof netCreateConnection {
  // @types/ws types this option as net.createConnection (returning a net.Socket); ws itself
  // only needs a Duplex and guards the net.Socket-only calls (research notes §1.2).
  const create = (
    options: tls.ConnectionOptions & {
      host?: string;
      port?: number | string;
      protocol?: string;
      defaultPort?: number;
    },
  ) => {
    // ws passes no protocol; it sets defaultPort to 443 for wss: URLs.
    const secure =
      options.protocol === 'wss:' ||
      options.protocol === 'https:' ||
      (options.protocol === undefined && options.defaultPort === 443);
    if (secure) return tlsOverStack(net, { ...options, host: hostOf(options), port: portOf(options, 443) });
    return net.connect({ host: hostOf(options), port: portOf(options, 80) });
  };
  return create as unknown as typeof netCreateConnection;
}
