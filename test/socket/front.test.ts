/** The front Socket and the error mapping, without any real network. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type {
  Datagram,
  DatagramImpl,
  OptionValue,
  Scheduler,
  SockAddr,
  SocketBackend,
  StreamImpl,
} from '../../src/socket/backend.ts';
import { AF_INET, AF_INET6, AF_UNIX, SOCK_DGRAM, SOCK_STREAM } from '../../src/socket/constants.ts';
import {
  ArgumentTypeError,
  GaiError,
  OverflowError,
  SocketError,
  SocketTimeoutError,
  toSocketError,
  ValueError,
} from '../../src/socket/errno.ts';
import { getaddrinfo } from '../../src/socket/resolve.ts';
import { Socket } from '../../src/socket/socket.ts';

class VirtualScheduler implements Scheduler {
  now = 0;
  timers = new Map<number, { at: number; fn: () => void }>();
  #id = 1;
  schedule(fn: () => void, ms: number) {
    const id = this.#id++;
    this.timers.set(id, { at: this.now + ms, fn });
    return id;
  }
  cancel(h: unknown) {
    this.timers.delete(h as number);
  }
  advance(ms: number) {
    this.now += ms;
    for (const [id, t] of [...this.timers]) {
      if (t.at <= this.now) {
        this.timers.delete(id);
        t.fn();
      }
    }
  }
}

/** A stream impl that never receives anything: every wait blocks until aborted. */
class SilentStream implements StreamImpl {
  readonly kind = 'stream' as const;
  waits = 0;
  async bind(_a: SockAddr) {}
  getsockname(): SockAddr {
    return { family: 2, host: '10.0.0.1', port: 1234 };
  }
  getpeername(): SockAddr | undefined {
    return { family: 2, host: '10.0.0.2', port: 80 };
  }
  setOption(_l: number, _n: number, _v: OptionValue) {}
  getOption() {
    return undefined;
  }
  waitReadable(signal: AbortSignal) {
    this.waits++;
    return new Promise<void>((_, reject) => signal.addEventListener('abort', () => reject(signal.reason)));
  }
  waitWritable(signal: AbortSignal) {
    return this.waitReadable(signal);
  }
  async close() {}
  async listen() {}
  accept() {
    return undefined;
  }
  connect(_a: SockAddr, signal: AbortSignal) {
    return this.waitReadable(signal);
  }
  recv() {
    return undefined;
  }
  send() {
    return 0;
  }
  shutdown() {}
}

class NullDgram implements DatagramImpl {
  readonly kind = 'dgram' as const;
  async bind() {}
  getsockname(): SockAddr {
    return { family: 2, host: '0.0.0.0', port: 0 };
  }
  getpeername() {
    return undefined;
  }
  setOption() {}
  getOption() {
    return undefined;
  }
  async waitReadable() {}
  async waitWritable() {}
  async close() {}
  async connect() {}
  async sendto(d: Uint8Array) {
    return d.length;
  }
  recvfrom(): Datagram | undefined {
    return undefined;
  }
}

function fakeBackend(sched: Scheduler, names: Record<string, string[]> = {}): SocketBackend {
  return {
    name: 'fake',
    scheduler: sched,
    create: (_f, t) => (t === SOCK_DGRAM ? new NullDgram() : new SilentStream()),
    // Returns every address whatever the family asked: the front must pick the right one.
    async resolve(host) {
      const list = names[host];
      if (!list) throw { code: 'ENOTFOUND', hostname: host };
      return list.map((h) => ({ family: (h.includes(':') ? 10 : 2) as 2 | 10, host: h }));
    },
    gethostname: () => 'fakehost',
  };
}

const tick = () => new Promise((r) => setImmediate(r));

describe('toSocketError: one mapping for every backend failure', () => {
  it('maps Node system errors, stack TcpErrors and close reasons', () => {
    const node = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5000'), {
      code: 'ECONNREFUSED',
      errno: -111,
      syscall: 'connect',
      address: '127.0.0.1',
      port: 5000,
    });
    const e = toSocketError(node);
    assert.equal(e.code, 'ECONNREFUSED');
    assert.equal(e.errno, 111);
    assert.equal(e.syscall, 'connect');
    assert.equal(
      e.message,
      'connect ECONNREFUSED 127.0.0.1:5000: the peer refused the connection (nothing listening on that port)',
    );
    const tcp = { name: 'TcpError', code: 'EADDRINUSE', message: 'EADDRINUSE' };
    assert.equal(
      toSocketError(tcp, { syscall: 'bind', address: '::1', port: 80 }).message.split(':')[0],
      'bind EADDRINUSE [',
    );
    assert.equal(toSocketError(tcp, { syscall: 'bind', address: '::1', port: 80 }).errno, 98);
    for (const [reason, code] of [
      ['refused', 'ECONNREFUSED'],
      ['reset', 'ECONNRESET'],
      ['timed-out', 'ETIMEDOUT'],
      ['unreachable', 'EHOSTUNREACH'],
      ['host-unreachable', 'EHOSTUNREACH'],
      ['net-unreachable', 'ENETUNREACH'],
    ]) {
      assert.equal(toSocketError(reason, { syscall: 'recv' }).code, code);
      assert.equal(toSocketError({ reason }).code, code);
    }
    const gai = toSocketError({ code: 'ENOTFOUND', syscall: 'getaddrinfo', hostname: 'nope.invalid' });
    assert.ok(gai instanceof GaiError);
    assert.equal(gai.code, 'EAI_NONAME');
    assert.equal(gai.errno, -2);
    const weird = toSocketError(new Error('boom'));
    assert.equal(weird.code, 'EIO');
    assert.match(weird.message, /boom/);
    const t = new SocketTimeoutError('recv');
    assert.equal(t.name, 'TimeoutError');
    assert.equal(t.message, 'timed out');
    assert.equal(t.code, 'ETIMEDOUT');
    assert.ok(t instanceof SocketError);
  });
});

describe('front Socket over a fake backend', () => {
  it('timeouts run on the injected scheduler (virtual time)', async () => {
    const sched = new VirtualScheduler();
    const s = new Socket(fakeBackend(sched), AF_INET, SOCK_STREAM, 0, new SilentStream());
    s.settimeout(30);
    let result: unknown;
    const p = s.recv(10).then(
      (v) => (result = v),
      (e) => (result = e),
    );
    await tick();
    sched.advance(29_999);
    await tick();
    assert.equal(result, undefined, 'still waiting just before the timeout');
    sched.advance(1);
    await p;
    const err = result as unknown;
    assert.ok(err instanceof SocketTimeoutError);
    assert.equal(err.syscall, 'recv');
    assert.equal(sched.timers.size, 0);
  });

  it('a blocking connect is bounded by the timeout; connectEx returns EAGAIN like Python', async () => {
    const sched = new VirtualScheduler();
    const s = new Socket(fakeBackend(sched), AF_INET, SOCK_STREAM);
    s.settimeout(5);
    const p = s.connectEx(['10.0.0.2', 80]);
    await tick();
    sched.advance(5000);
    assert.equal(await p, 11);
  });

  it('sendall applies one deadline to the whole call', async () => {
    const sched = new VirtualScheduler();
    const s = new Socket(fakeBackend(sched), AF_INET, SOCK_STREAM, 0, new SilentStream());
    s.settimeout(2);
    const p = assert.rejects(
      s.sendall('x'),
      (e: unknown) => e instanceof SocketTimeoutError && e.syscall === 'sendall',
    );
    await tick();
    sched.advance(2000);
    await p;
  });

  it('resolves names through the backend, per family, with gaierror shapes', async () => {
    const be = fakeBackend(new VirtualScheduler(), {
      'box.test': ['192.0.2.5', '2001:db8::5'],
      'v6only.test': ['2001:db8::6'],
    });
    const s = new Socket(be, AF_INET, SOCK_DGRAM);
    await s.connect(['box.test', 9]);
    await assert.rejects(
      s.connect(['missing.test', 9]),
      (e: unknown) => e instanceof GaiError && e.code === 'EAI_NONAME',
    );
    await assert.rejects(
      s.connect(['v6only.test', 9]),
      (e: unknown) => e instanceof GaiError && e.code === 'EAI_ADDRFAMILY',
    );
    await assert.rejects(
      s.connect(['::1', 9]),
      (e: unknown) => e instanceof GaiError && e.code === 'EAI_ADDRFAMILY',
    );
    const s6 = new Socket(be, AF_INET6, SOCK_DGRAM);
    await assert.rejects(
      s6.connect(['::1', 9, 1 << 21, 0]),
      (e: unknown) => e instanceof OverflowError && e.code === 'ERR_OUT_OF_RANGE',
    );
    await assert.rejects(
      s6.connect(['::1', 9, 0] as never),
      (e: unknown) => e instanceof ArgumentTypeError && e.code === 'ERR_INVALID_ARG_TYPE',
    );
    const infos = await getaddrinfo(be, 'box.test', 'http', 0, SOCK_STREAM);
    assert.deepEqual(infos, [
      [AF_INET, SOCK_STREAM, 6, '', ['192.0.2.5', 80]],
      [AF_INET6, SOCK_STREAM, 6, '', ['2001:db8::5', 80, 0, 0]],
    ]);
    await assert.rejects(
      getaddrinfo(be, 'box.test', 'gopherish'),
      (e: unknown) => e instanceof GaiError && e.code === 'EAI_SERVICE',
    );
  });

  it('validates socket() arguments and AF_UNIX addresses', async () => {
    const be = fakeBackend(new VirtualScheduler());
    assert.throws(
      () => new Socket(be, 99),
      (e: unknown) => e instanceof SocketError && e.code === 'EAFNOSUPPORT',
    );
    assert.throws(
      () => new Socket(be, AF_INET, 5),
      (e: unknown) => e instanceof SocketError && e.code === 'EINVAL',
    );
    assert.throws(
      () => new Socket(be, AF_INET, SOCK_STREAM, 17),
      (e: unknown) => e instanceof SocketError && e.code === 'EPROTONOSUPPORT',
    );
    const u = new Socket(be, AF_UNIX, SOCK_STREAM);
    await assert.rejects(
      u.bind(['x', 1] as never),
      (e: unknown) => e instanceof ArgumentTypeError && e.code === 'ERR_INVALID_ARG_TYPE',
    );
    await assert.rejects(
      u.bind(`/tmp/${'x'.repeat(120)}`),
      (e: unknown) => e instanceof SocketError && e.code === 'EINVAL',
    );
    assert.equal(u.getsockname(), '');
    const s = new Socket(be);
    s.settimeout(null);
    assert.throws(
      () => s.settimeout(-1),
      (e: unknown) => e instanceof ValueError && e.name === 'ValueError',
    );
    assert.match(String(s), /<socket family=AF_INET type=SOCK_STREAM proto=6/);
  });
});
