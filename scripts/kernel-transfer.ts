/**
 * Byte-exact bulk transfers between sockstack and the Linux kernel over a TAP,
 * both directions, checked by SHA-256 — the long version of
 * test/kernel/tcp-raw.test.ts (which moves 16 MiB / 4 MiB inside `npm test`).
 *
 *   sudo node --import tsx scripts/kernel-transfer.ts [--bytes 256M] [--only clean|ours|kernel]
 *
 * Scenarios: clean link; 1 % loss + 10 ms delay on sockstack's side of the TAP
 * (ImpairedDevice: tx loss+delay, rx loss); 1 % loss on the kernel's side
 * (iptables -m statistic on INPUT in the namespace; a DROP on OUTPUT
 * would be reported back to the kernel's TCP as a local congestion signal, not a wire loss). The kernel end is
 * scripts/kernel-peer.py. Exit code 0 only if every transfer matched.
 */
import { createHash } from 'node:crypto';
import { kernelLinkUnavailable } from '../src/node/netns.ts';
import { type TapStackHost, type TapStackOptions, tapStack } from '../src/node/tap-stack.ts';
import { rawConnect, rawListen } from '../test/kernel/raw-tcp.ts';

const PEER = new URL('./kernel-peer.py', import.meta.url).pathname;

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : def;
}
function size(s: string): number {
  const m = /^(\d+)([KMG]?)$/i.exec(s);
  if (!m) throw new Error(`bad size ${s}`);
  return (
    Number(m[1]) * { '': 1, K: 1024, M: 1 << 20, G: 1 << 30 }[m[2].toUpperCase() as '' | 'K' | 'M' | 'G']
  );
}
const BYTES = size(arg('bytes', '256M'));
const ONLY = arg('only', 'all');
/** Generous: 256 MiB at ~1 MB/s under loss is ~4.5 minutes. */
const LIMIT_MS = Number(arg('timeout', String(Math.max(120, (BYTES / 0.5e6) | 0) * 1000)));

function lineWaiter(h: TapStackHost, argv: string[]) {
  const child = h.spawn(argv);
  let out = '';
  let err = '';
  child.stdout?.on('data', (b: Buffer) => {
    out += b;
  });
  child.stderr?.on('data', (b: Buffer) => {
    err += b;
  });
  const wait = (re: RegExp, ms: number) =>
    new Promise<RegExpMatchArray>((resolve, reject) => {
      const end = Date.now() + ms;
      const tick = () => {
        const m = out.match(re);
        if (m) return resolve(m);
        if (child.exitCode !== null || Date.now() > end)
          return reject(new Error(`no ${re} from ${argv[2]}: ${out} ${err}`));
        setTimeout(tick, 50);
      };
      tick();
    });
  return { child, wait };
}

async function toKernel(h: TapStackHost): Promise<boolean> {
  const p = lineWaiter(h, [
    'python3',
    PEER,
    'recv',
    '--listen',
    h.kernelIp,
    '--port',
    '5101',
    '--timeout',
    String(LIMIT_MS / 1000),
  ]);
  await p.wait(/ready/, 10_000);
  const conn = rawConnect(h.stack, h.kernelIp, 5101);
  await conn.established();
  const hash = createHash('sha256');
  const block = new Uint8Array(1 << 20);
  const t0 = performance.now();
  for (let off = 0; off < BYTES; off += block.length) {
    const n = Math.min(block.length, BYTES - off);
    crypto.getRandomValues(block.subarray(0, 65536));
    for (let i = 65536; i < n; i += 65536) crypto.getRandomValues(block.subarray(i, Math.min(n, i + 65536)));
    hash.update(block.subarray(0, n));
    await conn.writeAll(block.subarray(0, n), LIMIT_MS);
  }
  conn.c.close();
  const m = await p.wait(/RESULT (\d+) ([0-9a-f]{64})/, LIMIT_MS);
  const secs = (performance.now() - t0) / 1000;
  const sha = hash.digest('hex');
  const ok = Number(m[1]) === BYTES && m[2] === sha;
  console.log(
    `  sockstack → kernel ${BYTES} bytes in ${secs.toFixed(1)} s (${(BYTES / secs / 1e6).toFixed(2)} MB/s): ` +
      `${ok ? 'OK' : 'MISMATCH'} sha256 ${sha.slice(0, 16)}… kernel got ${m[1]} bytes ${m[2].slice(0, 16)}…`,
  );
  return ok;
}

async function fromKernel(h: TapStackHost): Promise<boolean> {
  const l = rawListen(h.stack, 5102);
  const p = lineWaiter(h, [
    'python3',
    PEER,
    'send',
    '--connect',
    h.stackIp,
    '--port',
    '5102',
    '--bytes',
    String(BYTES),
    '--timeout',
    String(LIMIT_MS / 1000),
  ]);
  const conn = await l.next(10_000);
  const t0 = performance.now();
  const got = await conn.readAll(LIMIT_MS);
  conn.c.close();
  l.close();
  const secs = (performance.now() - t0) / 1000;
  const m = await p.wait(/RESULT (\d+) ([0-9a-f]{64})/, 30_000);
  const ok = got.bytes === BYTES && got.sha256 === m[2];
  console.log(
    `  kernel → sockstack ${got.bytes} bytes in ${secs.toFixed(1)} s (${(got.bytes / secs / 1e6).toFixed(2)} MB/s): ` +
      `${ok ? 'OK' : 'MISMATCH'} sha256 ${got.sha256.slice(0, 16)}… kernel sent ${m[1]} bytes ${m[2].slice(0, 16)}…`,
  );
  return ok;
}

async function scenario(
  name: string,
  options: TapStackOptions,
  setup?: (h: TapStackHost) => Promise<void>,
): Promise<boolean> {
  console.log(`# ${name}`);
  const h = await tapStack(options);
  try {
    if (setup) await setup(h);
    const a = await toKernel(h);
    const b = await fromKernel(h);
    const s = h.stack.tcp.stats;
    console.log(
      `  sockstack TCP: retransmits=${s.retransmits} fast=${s.fastRetransmits} rto=${s.timeouts} sackRecoveries=${s.sackRecoveries} outOfOrder=${s.outOfOrder}` +
        (h.impaired
          ? ` | our-side drops tx=${h.impaired.txStats?.dropped.loss} rx=${h.impaired.rxStats?.dropped.loss}`
          : ''),
    );
    if (setup) {
      const r = await h.exec("iptables -L -v -x -n | awk '/DROP/ {s += $1} END {print s+0}'");
      console.log(`  kernel-side iptables drops: ${r.stdout.trim()}`);
    }
    return a && b;
  } catch (e) {
    console.log(`  FAILED: ${(e as Error).message}`);
    return false;
  } finally {
    await h.close();
  }
}

const why = kernelLinkUnavailable();
if (why !== undefined) {
  console.log(`kernel-transfer: skipped: ${why}`);
  process.exit(0);
}
let ok = true;
if (ONLY === 'all' || ONLY === 'clean') ok = (await scenario('clean link', {})) && ok;
if (ONLY === 'all' || ONLY === 'ours')
  ok =
    (await scenario('1 % loss both ways + 10 ms delay (tx) on sockstack’s side of the TAP', {
      impair: { tx: { loss: 0.01, delay: 10_000 }, rx: { loss: 0.01 } },
    })) && ok;
if (ONLY === 'all' || ONLY === 'kernel')
  ok =
    (await scenario('1 % loss on the kernel side (iptables statistic on INPUT)', {}, async (h) => {
      for (const chain of ['INPUT']) {
        const r = await h.exec(
          `iptables -A ${chain} -p tcp -m statistic --mode random --probability 0.01 -j DROP`,
        );
        if (r.code !== 0) throw new Error(`iptables: ${r.stderr}`);
      }
    })) && ok;
console.log(ok ? 'kernel-transfer: all transfers byte-exact' : 'kernel-transfer: FAILURES');
process.exit(ok ? 0 : 1);
