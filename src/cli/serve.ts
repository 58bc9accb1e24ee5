/** `sockstack serve`: classic small services on the virtual server, exercised by a scripted client. */
import { formatTime } from '../trace/format.ts';
import {
  type CliIo,
  type Command,
  EXIT_FAILURE,
  EXIT_OK,
  num,
  oneOf,
  openCaptureOption,
  type Parsed,
  str,
  UsageError,
} from './command.ts';

type Service = 'echo' | 'discard' | 'chargen' | 'http';
const SERVICES = ['echo', 'discard', 'chargen', 'http'] as const;
const WELL_KNOWN: Record<Service, number> = { echo: 7, discard: 9, chargen: 19, http: 80 };

export const command: Command = {
  spec: {
    name: 'serve',
    summary: 'run echo / discard / chargen / http on the virtual server and try them',
    usage: ['[options]'],
    description:
      'Starts a service on the virtual server host 10.0.2.2 (the other side of the\n' +
      'router from the client 10.0.1.2) using sockstack sockets, then lets the client\n' +
      'make requests, and prints what both sides did:\n' +
      '  echo (RFC 862, port 7)      sends each request line, reads it back\n' +
      '  discard (RFC 863, port 9)   sends each request line, the server drops it\n' +
      '  chargen (RFC 864, port 19)  reads --bytes of the rotating character pattern\n' +
      '  http (port 80)              GET request paths; the server answers / and\n' +
      '                              /hello with small pages, anything else with 404\n' +
      'One TCP connection per request. Requests come from --script FILE (one per line:\n' +
      'the text for echo/discard, a path for http, a byte count for chargen) or are\n' +
      'made up (--requests N). Time is virtual. For a service on a real TAP link, see\n' +
      "'sockstack tap'.",
    options: {
      service: {
        type: 'string',
        short: 's',
        value: 'NAME',
        description: 'echo | discard | chargen | http',
        default: 'echo',
      },
      port: { type: 'string', short: 'p', value: 'PORT', description: 'port (default: the service port)' },
      requests: {
        type: 'string',
        short: 'n',
        value: 'N',
        description: 'requests the client makes',
        default: '3',
      },
      script: { type: 'string', value: 'FILE', description: 'requests, one per line ("-" for stdin)' },
      bytes: {
        type: 'string',
        value: 'N',
        description: 'chargen: bytes to read per request',
        default: '148',
      },
      loss: { type: 'string', value: 'PERCENT', description: 'random loss on each link', default: '0' },
      delay: { type: 'string', value: 'MS', description: 'one-way delay of each link', default: '0.5' },
      seed: { type: 'string', value: 'N', description: 'random seed', default: '1' },
      pcap: { type: 'string', short: 'w', value: 'FILE', description: 'write the packets to a pcapng file' },
    },
    positionals: { min: 0, max: 0, names: '' },
    examples: [
      'sockstack serve',
      'sockstack serve --service http --requests 2',
      'printf "/\\n/hello\\n/missing\\n" | sockstack serve -s http --script -',
      'sockstack serve -s chargen --bytes 500 --loss 10',
    ],
  },
  run: runServe,
};

/** RFC 864's pattern: 72-character lines of the 95 printable ASCII characters, each starting one later. */
export function chargenLine(n: number): string {
  let s = '';
  for (let i = 0; i < 72; i++) s += String.fromCharCode(32 + ((n + i) % 95));
  return `${s}\r\n`;
}

const enc = new TextEncoder();
const dec = new TextDecoder();

function quote(b: Uint8Array | string, max = 60): string {
  const s = typeof b === 'string' ? b : dec.decode(b);
  const t = s.length > max ? `${s.slice(0, max)}…` : s;
  return `'${t.replace(/\r/g, '\\r').replace(/\n/g, '\\n')}'`;
}

function httpPage(path: string, served: number): { status: string; body: string } {
  if (path === '/')
    return {
      status: '200 OK',
      body: `<!doctype html>\n<title>sockstack</title>\n<h1>Hello from sockstack</h1>\n<p>Request ${served} on 10.0.2.2, served over a TCP/IP stack written in TypeScript.</p>\n`,
    };
  if (path === '/hello') return { status: '200 OK', body: 'Hello, world\n' };
  return { status: '404 Not Found', body: `no page ${path}\n` };
}

async function runServe(p: Parsed, io: CliIo): Promise<number> {
  const service = oneOf(p, 'service', SERVICES, 'echo');
  const port = num(p, 'port', WELL_KNOWN[service], { min: 1, max: 65535, integer: true });
  const nReq = num(p, 'requests', 3, { min: 0, max: 100_000, integer: true });
  const chargenBytes = num(p, 'bytes', 148, { min: 1, max: 100_000_000, integer: true });
  const lossPct = num(p, 'loss', 0, { min: 0, max: 90 });
  const delayMs = num(p, 'delay', 0.5, { min: 0 });
  const seed = num(p, 'seed', 1, { integer: true });
  const pcapPath = str(p, 'pcap');
  const scriptPath = str(p, 'script');

  let requests: string[];
  if (scriptPath !== undefined) {
    const { readFileSync } = await import('node:fs');
    let text: string;
    try {
      text = readFileSync(scriptPath === '-' ? 0 : scriptPath, 'utf8');
    } catch (e) {
      io.err(`sockstack serve: cannot read ${scriptPath}: ${(e as NodeJS.ErrnoException).code ?? e}`);
      return EXIT_FAILURE;
    }
    requests = text.split(/\r?\n/).filter((l) => l.trim() !== '' && !l.startsWith('#'));
  } else {
    requests = Array.from({ length: nReq }, (_, i) => {
      if (service === 'http') return ['/', '/hello', '/missing'][i % 3];
      if (service === 'chargen') return String(chargenBytes);
      return `request ${i + 1}: hello, ${service} server`;
    });
  }
  if (service === 'chargen')
    for (const r of requests)
      if (!/^\d+$/.test(r.trim())) throw new UsageError(`chargen requests are byte counts, not '${r}'`);
  if (service === 'http')
    for (const r of requests)
      if (!r.startsWith('/')) throw new UsageError(`http requests are paths, not '${r}'`);

  const { buildWatchedNetwork, SERVER_ADDR } = await import('../trace/session.ts');
  const capture = await openCaptureOption(pcapPath, 'serve', io);
  if (capture === 'failed') return EXIT_FAILURE;
  const file = capture?.file;
  const writer = capture?.writer;
  let frames = 0;
  const imp = lossPct > 0 ? { loss: lossPct / 100 } : {};
  const net = buildWatchedNetwork({
    seed,
    delay: Math.round(delayMs * 1000),
    linkA: imp,
    linkB: imp,
    ...(writer ? { writer } : {}),
    onFrame: () => {
      frames++;
    },
  });
  const { sim, client, server } = net;
  const t0 = sim.now;
  const log = (who: string, text: string) => io.out(`${formatTime(sim.now - t0)}  ${who.padEnd(6)} ${text}`);
  const { AF_INET, SOCK_STREAM } = await import('../socket/constants.ts');

  let failures = 0;
  const session = async () => {
    const lst = server.socket(AF_INET, SOCK_STREAM);
    await lst.bind(['', port]);
    await lst.listen(16);
    log('server', `${service} listening on 0.0.0.0:${port}`);
    let stopping = false;
    let served = 0;
    const handle = async (conn: import('../socket/socket.ts').Socket, peer: string) => {
      served++;
      const n = served;
      if (service === 'echo') {
        let total = 0;
        for (;;) {
          const d = await conn.recv(4096);
          if (d.length === 0) break;
          total += d.length;
          await conn.sendall(d);
        }
        log('server', `echoed ${total} bytes to ${peer}`);
      } else if (service === 'discard') {
        let total = 0;
        for (;;) {
          const d = await conn.recv(65536);
          if (d.length === 0) break;
          total += d.length;
        }
        log('server', `discarded ${total} bytes from ${peer}`);
      } else if (service === 'chargen') {
        // Sends until the client closes (the send then fails or the peer's FIN shows).
        let line = 0;
        let sent = 0;
        const reader = (async () => {
          for (;;) {
            const d = await conn.recv(4096).catch(() => new Uint8Array(0));
            if (d.length === 0) return;
          }
        })();
        let done = false;
        void reader.then(() => {
          done = true;
        });
        try {
          while (!done) {
            const chunk = enc.encode(Array.from({ length: 8 }, () => chargenLine(line++)).join(''));
            await conn.sendall(chunk);
            sent += chunk.length;
            await sim.delay(1000);
          }
        } catch {
          // The client reset or closed: chargen ends.
        }
        log('server', `sent ${sent} bytes of pattern to ${peer} until it closed`);
      } else {
        let req = '';
        for (;;) {
          const d = await conn.recv(4096);
          if (d.length === 0) break;
          req += dec.decode(d);
          if (req.includes('\r\n\r\n')) break;
        }
        const [method = '', path = '/'] = (req.split('\r\n')[0] ?? '').split(' ');
        const page =
          method === 'GET' ? httpPage(path, n) : { status: '405 Method Not Allowed', body: 'GET only\n' };
        const body = enc.encode(page.body);
        const head = `HTTP/1.0 ${page.status}\r\nServer: sockstack\r\nContent-Type: ${page.body.startsWith('<') ? 'text/html' : 'text/plain'}; charset=utf-8\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n`;
        await conn.sendall(enc.encode(head));
        await conn.sendall(body);
        log('server', `${method} ${path} from ${peer} → ${page.status} (${body.length} bytes)`);
      }
      await conn.close();
    };
    const handlers: Promise<void>[] = [];
    const acceptLoop = (async () => {
      while (!stopping) {
        let got: [import('../socket/socket.ts').Socket, unknown];
        try {
          got = await lst.accept();
        } catch {
          return; // closed at the end
        }
        const peer = (got[1] as [string, number]).join(':');
        log('server', `accepted ${peer}`);
        handlers.push(handle(got[0], peer));
      }
    })();

    for (const [i, r] of requests.entries()) {
      const c = client.socket(AF_INET, SOCK_STREAM);
      c.settimeout(60);
      const start = sim.now;
      try {
        await c.connect([SERVER_ADDR, port]);
        const me = (c.getsockname() as [string, number]).join(':');
        if (service === 'echo') {
          const line = enc.encode(`${r}\n`);
          await c.sendall(line);
          const parts: Uint8Array[] = [];
          let got = 0;
          while (got < line.length) {
            const d = await c.recv(4096);
            if (d.length === 0) break;
            parts.push(d);
            got += d.length;
          }
          const back = dec.decode(concat(parts));
          const ok = back === `${r}\n`;
          if (!ok) failures++;
          log(
            'client',
            `#${i + 1} from ${me}: sent ${quote(line)}, got back ${quote(back)}${ok ? '' : ' (MISMATCH)'}, ${ms(sim.now - start)}`,
          );
        } else if (service === 'discard') {
          await c.sendall(enc.encode(`${r}\n`));
          log(
            'client',
            `#${i + 1} from ${me}: sent ${quote(`${r}\n`)} (${r.length + 1} bytes) into the void`,
          );
        } else if (service === 'chargen') {
          const want = Number(r);
          const parts: Uint8Array[] = [];
          let got = 0;
          while (got < want) {
            const d = await c.recv(Math.min(65536, want - got));
            if (d.length === 0) break;
            parts.push(d);
            got += d.length;
          }
          const text = dec.decode(concat(parts));
          const expect = Array.from({ length: Math.ceil(want / 74) + 1 }, (_, k) => chargenLine(k))
            .join('')
            .slice(0, got);
          const ok = got === want && text === expect;
          if (!ok) failures++;
          log(
            'client',
            `#${i + 1} from ${me}: read ${got} bytes${ok ? ' of the RFC 864 pattern' : ' (NOT the expected pattern)'}, first line ${quote(text.split('\r\n')[0] ?? '', 72)}, ${ms(sim.now - start)}`,
          );
        } else {
          await c.sendall(
            enc.encode(`GET ${r} HTTP/1.0\r\nHost: ${SERVER_ADDR}\r\nUser-Agent: sockstack\r\n\r\n`),
          );
          const parts: Uint8Array[] = [];
          for (;;) {
            const d = await c.recv(65536);
            if (d.length === 0) break;
            parts.push(d);
          }
          const resp = dec.decode(concat(parts));
          const [head = '', body = ''] = resp.split('\r\n\r\n');
          const status = head.split('\r\n')[0] ?? '';
          if (!/^HTTP\/1\.[01] \d{3} /.test(status)) failures++;
          log(
            'client',
            `#${i + 1} GET ${r} → ${status}, ${body.length} bytes of body, ${ms(sim.now - start)}`,
          );
          const firstBody = body.split('\n').find((l) => l.trim() !== '');
          if (firstBody) log('client', `   ${quote(firstBody, 72)}`);
        }
      } catch (e) {
        failures++;
        log('client', `#${i + 1} failed: ${(e as Error).message}`);
      }
      await c.close();
    }
    // Let the last handlers finish before the server stops.
    await sim.delay(200_000);
    stopping = true;
    await lst.close();
    await Promise.all(handlers);
    await acceptLoop;
    log('server', `stopped after ${served} connections`);
  };

  let failure: string | undefined;
  try {
    await sim.run(session, { timeout: 3600 * 1_000_000 });
  } catch (e) {
    failure = (e as Error).message;
  }
  net.watching = false;
  file?.close();
  io.out('');
  io.out(
    `${requests.length} request(s) to ${service} on ${SERVER_ADDR}:${port}, ${failures} failed, ${frames} frames on the two subnets${pcapPath !== undefined ? `, written to ${pcapPath}` : ''}`,
  );
  if (failure !== undefined) {
    io.err(`sockstack serve: ${failure}`);
    return EXIT_FAILURE;
  }
  return failures === 0 ? EXIT_OK : EXIT_FAILURE;
}

const ms = (us: number) => `${(us / 1000).toFixed(3)} ms`;

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, x) => n + x.length, 0));
  let o = 0;
  for (const x of parts) {
    out.set(x, o);
    o += x.length;
  }
  return out;
}
