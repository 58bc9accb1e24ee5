/**
 * Application-level transfers over a TAP, as the issue that asked for the vnet TAP measured
 * them: curl downloading from and uploading to `sockstack tap --service http` (a node:http
 * server on sockstack, over a TAP with virtio_net_hdr offloads), against the same server
 * (src/cli/http-service.ts's routes) on the kernel, reached by curl over a veth pair with the
 * kernel's default offloads; interleaved runs in namespaces created here, medians and ratios.
 * The kernel's TCP runs its default congestion control, as a user's would (BBR on this
 * machine; a namespace cannot choose CUBIC here, as tcp_allowed_congestion_control lacks it,
 * and neither curl nor node:http sets TCP_CONGESTION), at both ends of the veth and at curl's
 * end of the TAP alike.
 *
 *   sudo node --import tsx bench/tap-http.ts [--bytes 256M] [--runs 5]
 *
 * Download: GET /bytes/N (the server fills each 64 KiB write with random bytes, on both
 * servers alike, and that fill is a large part of both servers' CPU); upload: PUT /discard
 * from `head -c N /dev/zero` (chunked), which the server reads and drops. curl's own figures
 * (speed_download, speed_upload). Engine-level figures without HTTP are bench/tap-tcp.ts's.
 * Not a test: prints numbers, never fails on speed.
 */
import { type ChildProcess, execFileSync } from 'node:child_process';
import { parseArgs } from 'node:util';
import {
  configureLink,
  createNetns,
  deleteNetns,
  ip,
  kernelLinkUnavailable,
  nsSpawn,
  uniqueName,
} from '../src/node/netns.ts';

const { values } = parseArgs({
  options: { bytes: { type: 'string', default: '256M' }, runs: { type: 'string', default: '5' } },
});
const m = /^(\d+)([KMG]?)$/i.exec(values.bytes);
if (!m) throw new Error(`bad --bytes ${values.bytes}`);
const BYTES =
  Number(m[1]) * { '': 1, K: 1024, M: 1 << 20, G: 1 << 30 }[m[2].toUpperCase() as '' | 'K' | 'M' | 'G'];
const RUNS = Math.max(1, Number(values.runs) || 1);

const why = kernelLinkUnavailable();
if (why !== undefined) {
  console.log(`tap-http: skipped: ${why}`);
  process.exit(0);
}
try {
  execFileSync('curl', ['--version'], { stdio: 'ignore' });
} catch {
  console.log('tap-http: skipped: curl is missing');
  process.exit(0);
}

const root = new URL('..', import.meta.url).pathname;
const namespaces: string[] = [];
const children: ChildProcess[] = [];
function cleanup(): void {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  for (const n of namespaces.splice(0)) deleteNetns(n);
}
for (const sig of ['SIGINT', 'SIGTERM'] as const)
  process.on(sig, () => {
    cleanup();
    process.exit(130);
  });

function ns(prefix: string): string {
  const n = uniqueName(prefix);
  createNetns(n);
  namespaces.push(n);
  return n;
}

/** Resolves when the child prints a line matching `re` (rejects after `ms`). */
function waitFor(c: ChildProcess, re: RegExp, ms: number): Promise<void> {
  return new Promise((resolve, reject) => {
    let out = '';
    const t = setTimeout(() => reject(new Error(`no ${re} within ${ms} ms: ${out}`)), ms);
    const on = (b: Buffer) => {
      out += b;
      if (re.test(out)) {
        clearTimeout(t);
        resolve();
      }
    };
    c.stdout?.on('data', on);
    c.stderr?.on('data', on);
  });
}

/** curl in `netns`; its -w figure in MB/s. */
function curl(netns: string, url: string, up: boolean): number {
  const w = up ? '%{speed_upload}' : '%{speed_download}';
  const cmd = up
    ? `head -c ${BYTES} /dev/zero | curl -sS --fail --max-time 300 -T - -o /dev/null -w '${w}' ${url}/discard`
    : `curl -sS --fail --max-time 300 -o /dev/null -w '${w}' ${url}/bytes/${BYTES}`;
  const out = execFileSync('ip', ['netns', 'exec', netns, 'sh', '-c', cmd], { encoding: 'utf8' });
  return Number(out.trim()) / 1e6;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const fmt = (xs: number[]) =>
  `${median(xs).toFixed(1)} MB/s [${Math.min(...xs).toFixed(1)}–${Math.max(...xs).toFixed(1)}]`;

try {
  // sockstack: the CLI's TAP service in namespace T; curl in T talks to it through the TAP.
  const t = ns('bht');
  const tapCli = nsSpawn(t, process.execPath, [
    `${root}bin/sockstack.mjs`,
    'tap',
    '-k',
    '10.77.21.1/24',
    '-a',
    '10.77.21.2/24',
    '--service',
    'http',
  ]);
  children.push(tapCli);
  await waitFor(tapCli, /Ctrl-C/, 20_000);
  // The kernel: the same handler in namespace S, curl in C, a veth pair with default offloads.
  const s = ns('bhs');
  const c = ns('bhc');
  const vs = uniqueName('hvs');
  const vc = uniqueName('hvc');
  ip(['link', 'add', vs, 'netns', s, 'type', 'veth', 'peer', 'name', vc, 'netns', c]);
  configureLink(vs, { addresses: ['10.77.22.2/24'], disableIpv6: true }, s);
  configureLink(vc, { addresses: ['10.77.22.1/24'], disableIpv6: true }, c);
  const server = nsSpawn(s, process.execPath, [
    '--import',
    'tsx',
    `${root}bench/lib/http-server.ts`,
    '10.77.22.2',
    '8080',
  ]);
  children.push(server);
  await waitFor(server, /ready/, 20_000);

  console.log(
    `# bench/tap-http  node ${process.version}  ${BYTES / (1 << 20)} MiB per transfer, ${RUNS} runs`,
  );
  const r = {
    oursDown: [] as number[],
    kernDown: [] as number[],
    oursUp: [] as number[],
    kernUp: [] as number[],
  };
  for (let i = 0; i < RUNS; i++) {
    r.oursDown.push(curl(t, 'http://10.77.21.2', false));
    r.kernDown.push(curl(c, 'http://10.77.22.2:8080', false));
    r.oursUp.push(curl(t, 'http://10.77.21.2', true));
    r.kernUp.push(curl(c, 'http://10.77.22.2:8080', true));
    console.log(
      `RESULT tap-http run=${i + 1} down: sockstack=${r.oursDown[i].toFixed(1)} kernel=${r.kernDown[i].toFixed(1)} up: sockstack=${r.oursUp[i].toFixed(1)} kernel=${r.kernUp[i].toFixed(1)} MB/s`,
    );
  }
  console.log(
    `  curl ← server (GET /bytes/N)   sockstack over TAP ${fmt(r.oursDown)}; kernel over veth ${fmt(r.kernDown)}; ratio ${(median(r.oursDown) / median(r.kernDown)).toFixed(3)}`,
  );
  console.log(
    `  curl → server (PUT /discard)   sockstack over TAP ${fmt(r.oursUp)}; kernel over veth ${fmt(r.kernUp)}; ratio ${(median(r.oursUp) / median(r.kernUp)).toFixed(3)}`,
  );
} finally {
  cleanup();
}
