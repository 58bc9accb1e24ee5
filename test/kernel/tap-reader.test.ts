/**
 * Issue #6: read the TAP "without tying up libuv's thread pool, batching frames
 * per wake-up". The kernel floods our TAP with UDP frames (python3 in the
 * namespace, a permanent neighbour entry so there is no ARP) while every thread
 * of libuv's pool is busy. A reader built on
 * fs.read/createReadStream would get nothing until the pool frees up; ours reads
 * in its own worker thread, so frames arrive while the jobs still run, and they
 * arrive in batches (fewer messages from the reader than frames). The jobs are reads
 * on a FIFO that block until the test writes to it, so the pool is held for as long
 * as the test needs, however loaded the machine is.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { pbkdf2 } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, read, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ip, linkCounters, nsSpawn } from '../../src/node/netns.ts';
import { tapInNetns } from '../helpers/netns.ts';
import { exited, lines, skipUnless, until } from './helpers.ts';

const FRAMES = 3000;

describe('TAP reader thread', () => {
  it('frames arrive in batches while every libuv thread-pool thread is busy', async (t) => {
    if (skipUnless(t, ['python3'])) return;
    const h = await tapInNetns(t, { addresses: ['10.81.77.1/24'] });
    const { tap, netns } = h;
    ip(
      ['neigh', 'add', '10.81.77.2', 'lladdr', '02:00:00:81:77:02', 'dev', tap.ifname, 'nud', 'permanent'],
      netns,
    );
    // A queue as long as the flood: the kernel drops nothing however slowly this loaded machine
    // schedules the reader, so every frame arrives and the count does not depend on load.
    ip(['link', 'set', 'dev', tap.ifname, 'txqueuelen', String(FRAMES + 1000)], netns);
    let udpFrames = 0;
    tap.onReceive = (f) => {
      // IPv4 (0x0800) carrying UDP (17) to port 9: the flood, not stray kernel chatter.
      if (f[12] === 0x08 && f[13] === 0x00 && f[23] === 17 && f[36] === 0 && f[37] === 9) udpFrames++;
    };

    // The generator starts first and floods on a line from us, so the pool jobs
    // below need only outlast the flood itself, not python's start-up.
    const py = `
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.connect(('10.81.77.2', 9))
print('ready', flush=True)
sys.stdin.readline()
for i in range(${FRAMES}):
    s.send(b'x' * 64)
print('sent', flush=True)
`;
    const gen = nsSpawn(netns, 'python3', ['-c', py], { stdio: ['pipe', 'pipe', 'pipe'] });
    t.after(() => {
      if (gen.exitCode === null) gen.kill('SIGKILL');
    });
    await lines(gen, 'flood').waitFor(/ready/, 10_000);

    // Occupy the whole pool (UV_THREADPOOL_SIZE, default 4) until we let it go: each job is
    // an fs.read on a FIFO with no data yet, which blocks its pool thread until we write to
    // the FIFO. Nothing here races the clock: a reader that needed the pool would see no
    // frame at all until the release, and the wait below would time out.
    const poolSize = Number(process.env.UV_THREADPOOL_SIZE ?? 4);
    const dir = mkdtempSync(join(tmpdir(), 'tap-reader-'));
    const fifo = join(dir, 'pool');
    execFileSync('mkfifo', [fifo]);
    // O_RDWR: opening a FIFO this way never blocks (Linux fifo(7)); done synchronously, off the pool.
    const fd = openSync(fifo, 'r+');
    let poolBusy = poolSize;
    t.after(() => {
      // Release whatever is still held (a failed assertion), so no pool thread stays blocked.
      if (poolBusy > 0) writeSync(fd, Buffer.alloc(poolBusy, 0x2e));
      closeSync(fd);
      rmSync(dir, { recursive: true, force: true });
    });
    const jobs = Array.from(
      { length: poolSize },
      () =>
        new Promise<void>((resolve, reject) =>
          read(fd, Buffer.alloc(1), 0, 1, null, (err) => {
            poolBusy--;
            if (err) reject(err);
            else resolve();
          }),
        ),
    );
    // A probe queued behind them: it can only finish once a pool thread is free, so it shows
    // the pool really was saturated while the frames came in.
    let probeDone = false;
    const probe = new Promise<void>((resolve) =>
      pbkdf2('pw', 'salt', 1, 32, 'sha512', () => {
        probeDone = true;
        resolve();
      }),
    );

    gen.stdin?.end('go\n');
    assert.equal(await exited(gen, 20_000), 0);
    // The whole flood arrives while the pool is held.
    await until(() => udpFrames >= FRAMES, 30_000, 'every frame while the pool is held');
    assert.equal(poolBusy, poolSize, 'a pool job ended before the release');
    assert.equal(probeDone, false, 'the probe ran: the pool was not saturated');
    // Release the pool: one byte for each blocked read.
    writeSync(fd, Buffer.alloc(poolSize, 0x2e));
    await Promise.all(jobs);
    await probe;
    const st = tap.stats;
    assert.ok(
      st.rxBatches > 0 && st.rxBatches < st.rxFrames,
      `batches ${st.rxBatches}, frames ${st.rxFrames}`,
    );
  });
});

describe('TAP reader back-pressure', () => {
  it('a blocked main thread stops the reader at maxInFlight batches; the kernel drops the rest', async (t) => {
    if (skipUnless(t, ['python3'])) return;
    const h = await tapInNetns(t, { addresses: ['10.81.78.1/24'], maxInFlight: 2 });
    const { tap, netns } = h;
    ip(
      ['neigh', 'add', '10.81.78.2', 'lladdr', '02:00:00:81:78:02', 'dev', tap.ifname, 'nud', 'permanent'],
      netns,
    );
    let udpFrames = 0;
    tap.onReceive = (f) => {
      if (f[12] === 0x08 && f[13] === 0x00 && f[23] === 17 && f[36] === 0 && f[37] === 9) udpFrames++;
    };
    const before = linkCounters(tap.ifname, netns);
    // execFileSync blocks this thread for the whole flood: no batch is consumed
    // meanwhile, so the reader may post 2 and must then wait.
    const SENT = 60_000;
    const py = `
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.connect(('10.81.78.2', 9))
n = 0
for i in range(${SENT}):
    try:
        s.send(b'x' * 64)
        n += 1
    except OSError:
        pass
print(n)
`;
    const sent = Number(
      execFileSync('ip', ['netns', 'exec', netns, 'python3', '-c', py], { encoding: 'utf8' }),
    );
    assert.ok(sent > SENT * 0.9, `generator sent ${sent}`);
    // Now drain: the 2 posted batches, then whatever the kernel still queues (txqueuelen).
    const queue = Number(
      (JSON.parse(ip(['-j', 'link', 'show', 'dev', tap.ifname], netns)) as [{ txqlen: number }])[0].txqlen,
    );
    await until(() => tap.stats.rxBatches >= 2, 10_000, 'the posted batches');
    const after = linkCounters(tap.ifname, netns);
    const dropped = after.txDropped - before.txDropped;
    // Bounded: two batches of at most 1 MiB each (~106-byte frames) plus the kernel's queue.
    const bound = 2 * Math.ceil((1 << 20) / 106) + queue + 100;
    await until(() => udpFrames + dropped >= sent * 0.99, 10_000, 'every frame received or dropped');
    assert.ok(udpFrames <= bound, `received ${udpFrames} > bound ${bound}: the reader did not pause`);
    assert.ok(dropped >= sent - bound, `kernel dropped only ${dropped} of ${sent}`);
  });
});
