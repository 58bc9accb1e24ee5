/** `sockstack nc`: netcat across the built-in virtual network, both ends in this process. */
import { formatTime, summaryLine } from '../trace/format.ts';
import {
  type CliIo,
  type Command,
  EXIT_FAILURE,
  EXIT_OK,
  flag,
  num,
  type Parsed,
  str,
  UsageError,
} from './command.ts';
import { Progress } from './progress.ts';

export const command: Command = {
  spec: {
    name: 'nc',
    summary: 'netcat across the built-in virtual network (both ends in this process)',
    usage: ['[options] [PORT]', '-l [options] [PORT]', '-u [options] [PORT]'],
    description:
      'The virtual network lives inside this process, so nc runs both ends of the\n' +
      'connection here, on two hosts on different subnets joined by a router:\n' +
      '  client 10.0.1.2 ── router ── server 10.0.2.2\n\n' +
      'Without -l (like `nc HOST PORT`): the server listens on PORT, the client\n' +
      'connects and sends your data (stdin, --send FILE or --text); the server writes\n' +
      'what it receives to stdout. With -l (like `nc -l PORT`): the server listens and\n' +
      'sends your data to the client that connects, which writes it to stdout. Either\n' +
      "way every byte crosses the router through sockstack's TCP (or UDP with -u) over\n" +
      'the sockets API, and stdout gets exactly the bytes that arrived.\n\n' +
      'UDP has no connection and no end of stream: the data goes in datagrams of\n' +
      '--datagram bytes, the receiver stops after 2 s of virtual silence, and under\n' +
      '--loss lost datagrams are simply missing from the output.\n\n' +
      'Time is virtual: a transfer over a 50 ms link takes as long as the computation\n' +
      'does, not 50 ms per round trip. A progress bar goes to stderr on a terminal.\n' +
      '-v prints the connection events and a summary to stderr, -t every packet.',
    options: {
      listen: {
        type: 'boolean',
        short: 'l',
        description: 'the listening server sends the data; the client receives it',
      },
      udp: { type: 'boolean', short: 'u', description: 'UDP instead of TCP' },
      'listen-port': {
        type: 'string',
        short: 'p',
        value: 'PORT',
        description: 'port the server listens on',
        default: '7',
      },
      send: { type: 'string', short: 'f', value: 'FILE', description: 'send FILE instead of stdin' },
      text: { type: 'string', value: 'TEXT', description: 'send TEXT (plus a newline) instead of stdin' },
      datagram: {
        type: 'string',
        value: 'BYTES',
        description: 'UDP: bytes per datagram',
        default: '1024',
      },
      verbose: { type: 'boolean', short: 'v', description: 'connection events and a summary on stderr' },
      trace: { type: 'boolean', short: 't', description: 'one line per packet on stderr' },
      loss: { type: 'string', value: 'PERCENT', description: 'random loss on each link', default: '0' },
      delay: { type: 'string', value: 'MS', description: 'one-way delay of each link', default: '0.5' },
      bandwidth: {
        type: 'string',
        value: 'MBIT',
        description: 'rate of each link in Mbit/s (0 = unlimited)',
        default: '0',
      },
      mtu: { type: 'string', value: 'BYTES', description: 'IP MTU of the server subnet', default: '1500' },
      seed: { type: 'string', value: 'N', description: 'random seed', default: '1' },
      pcap: {
        type: 'string',
        short: 'w',
        value: 'FILE',
        description: 'write the packets to a pcapng file (one interface per subnet)',
      },
    },
    positionals: { min: 0, max: 1, names: 'PORT' },
    examples: [
      'echo hello | sockstack nc 7',
      'sockstack nc --text "Hello, world" -v',
      'sockstack nc --send big.iso --loss 1 --delay 20 -v > copy.iso && cmp big.iso copy.iso',
      'sockstack nc -l 8080 --send index.html -t',
      'sockstack nc -u --text ping --pcap udp.pcapng',
    ],
  },
  run: runNc,
};

async function readInput(p: Parsed): Promise<Uint8Array> {
  const text = str(p, 'text');
  const file = str(p, 'send');
  if (text !== undefined && file !== undefined) throw new UsageError('give --send or --text, not both');
  if (text !== undefined) return new TextEncoder().encode(`${text}\n`);
  const { readFileSync } = await import('node:fs');
  if (file !== undefined) {
    try {
      return readFileSync(file);
    } catch (e) {
      throw new InputError(
        `cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
      );
    }
  }
  const chunks: Uint8Array[] = [];
  for await (const c of process.stdin) chunks.push(c as Uint8Array);
  return concat(chunks);
}

class InputError extends Error {}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, x) => n + x.length, 0));
  let o = 0;
  for (const x of parts) {
    out.set(x, o);
    o += x.length;
  }
  return out;
}

async function runNc(p: Parsed, io: CliIo): Promise<number> {
  const portText = p.positionals[0] ?? str(p, 'listen-port') ?? '7';
  if (!/^\d+$/.test(portText) || Number(portText) < 1 || Number(portText) > 65535)
    throw new UsageError(`bad port '${portText}'`);
  const port = Number(portText);
  const udp = flag(p, 'udp');
  const reverse = flag(p, 'listen');
  const verbose = flag(p, 'verbose');
  const trace = flag(p, 'trace');
  const lossPct = num(p, 'loss', 0, { min: 0, max: 90 });
  const delayMs = num(p, 'delay', 0.5, { min: 0 });
  const bandwidth = num(p, 'bandwidth', 0, { min: 0 });
  const mtu = num(p, 'mtu', 1500, { min: 576, max: 65535, integer: true });
  const dgram = num(p, 'datagram', 1024, { min: 1, max: 65507, integer: true });
  const seed = num(p, 'seed', 1, { integer: true });
  const pcapPath = str(p, 'pcap');
  let data: Uint8Array;
  try {
    data = await readInput(p);
  } catch (e) {
    if (e instanceof InputError) {
      io.err(`sockstack nc: ${e.message}`);
      return EXIT_FAILURE;
    }
    throw e;
  }

  // Loaded here, not inside the session: an `await import()` inside a task under sim.run waits on
  // real I/O the simulation cannot see, so it may find the network idle and stop with a deadlock.
  const { buildWatchedNetwork, FrameLabeller, CLIENT_ADDR, SERVER_ADDR, connectionOf } = await import(
    '../trace/session.ts'
  );
  let file: { close(): void } | undefined;
  let writer: import('../link/pcap.ts').CaptureWriter | undefined;
  if (pcapPath !== undefined) {
    const { openPcapngFile } = await import('../node/pcap-file.ts');
    try {
      const o = openPcapngFile(pcapPath, { application: 'sockstack nc' });
      file = o.file;
      writer = o.writer;
    } catch (e) {
      io.err(`sockstack nc: cannot write ${pcapPath}: ${(e as Error).message}`);
      return EXIT_FAILURE;
    }
  }
  const labeller = trace ? new FrameLabeller() : undefined;
  let t0 = 0;
  const imp = {
    ...(lossPct > 0 ? { loss: lossPct / 100 } : {}),
    ...(bandwidth > 0 ? { bandwidth: bandwidth * 1e6 } : {}),
  };
  let frames = 0;
  const net = buildWatchedNetwork({
    seed,
    delay: Math.round(delayMs * 1000),
    linkA: imp,
    linkB: imp,
    mtuB: mtu,
    ...(writer ? { writer } : {}),
    onFrame: (f) => {
      frames++;
      if (!labeller) return;
      const l = labeller.label(f);
      io.err(
        `${formatTime(f.time - t0)} [${f.subnet === 0 ? '10.0.1.0/24' : '10.0.2.0/24'}] ${summaryLine(l.dissection, l.tcp ? { tcp: { ...l.tcp, events: [] } } : {})}  (${l.label})`,
      );
    },
  });
  const { sim, client, server } = net;
  t0 = sim.now;
  const say = (t: string) => {
    if (verbose) io.err(`${formatTime(sim.now - t0)} ${t}`);
  };
  const { AF_INET, SOCK_DGRAM, SOCK_STREAM } = await import('../socket/constants.ts');
  const progress = new Progress({
    total: data.length,
    label: 'sent',
    write: io.progress,
    isTTY: io.stderrIsTTY && !verbose && !trace && data.length >= 256 * 1024,
    ...(io.columns ? { columns: io.columns } : {}),
    now: () => (sim.now - t0) / 1000,
  });
  const sender = reverse ? server : client;
  const senderName = reverse ? 'server' : 'client';
  const receiverName = reverse ? 'client' : 'server';
  const received: Uint8Array[] = [];
  let got = 0;
  const out = (d: Uint8Array) => {
    received.push(d);
    got += d.length;
    process.stdout.write(d);
  };
  let retrans = 0;

  const tcpSession = async () => {
    const lst = server.socket(AF_INET, SOCK_STREAM);
    await lst.bind(['', port]);
    await lst.listen(1);
    say(`server: listening on 0.0.0.0:${port}`);
    const accepted = lst.accept();
    const c = client.socket(AF_INET, SOCK_STREAM);
    await c.connect([SERVER_ADDR, port]);
    const [conn, peer] = await accepted;
    const local = c.getsockname() as [string, number];
    say(`client: connected ${local[0]}:${local[1]} → ${SERVER_ADDR}:${port}`);
    say(`server: accepted ${(peer as [string, number]).join(':')}`);
    const [tx, rx] = reverse ? [conn, c] : [c, conn];
    const txConn = connectionOf(sender, tx);
    const reading = (async () => {
      for (;;) {
        const d = await rx.recv(65536);
        if (d.length === 0) break;
        out(d);
      }
      say(`${receiverName}: end of stream after ${got} bytes`);
    })();
    const step = 64 * 1024;
    for (let o = 0; o < data.length; o += step) {
      await tx.sendall(data.subarray(o, Math.min(data.length, o + step)));
      progress.update(Math.min(data.length, o + step));
    }
    retrans = txConn?.info().totalRetrans ?? 0;
    await tx.close();
    say(`${senderName}: sent ${data.length} bytes, closed (FIN)`);
    await reading;
    retrans = Math.max(retrans, txConn?.info().totalRetrans ?? 0);
    await rx.close();
    await lst.close();
  };

  const udpSession = async () => {
    const s = server.socket(AF_INET, SOCK_DGRAM);
    await s.bind(['', port]);
    const c = client.socket(AF_INET, SOCK_DGRAM);
    await c.bind(['', 0]);
    const [tx, rx] = reverse ? [s, c] : [c, s];
    const dst: [string, number] = reverse
      ? [CLIENT_ADDR, (c.getsockname() as [string, number])[1]]
      : [SERVER_ADDR, port];
    say(`server: UDP socket bound to 0.0.0.0:${port}`);
    rx.settimeout(2);
    let datagrams = 0;
    const reading = (async () => {
      for (;;) {
        try {
          const [d] = await rx.recvfrom(65535);
          datagrams++;
          out(d);
        } catch (e) {
          if (/timed out/i.test(String((e as Error).message))) break;
          throw e;
        }
      }
      say(`${receiverName}: ${datagrams} datagrams, ${got} bytes, then 2 s of silence`);
    })();
    let n = 0;
    for (let o = 0; o < data.length; o += dgram) {
      await tx.sendto(data.subarray(o, Math.min(data.length, o + dgram)), dst);
      n++;
      progress.update(Math.min(data.length, o + dgram));
      // Pace a little so a long input does not overrun the receiver's queue in one instant.
      if (n % 32 === 0) await sim.delay(1000);
    }
    say(`${senderName}: sent ${n} datagrams to ${dst.join(':')}`);
    await reading;
    await tx.close();
    await rx.close();
  };

  let failure: string | undefined;
  try {
    await sim.run(udp ? udpSession : tcpSession, { timeout: 24 * 3600 * 1_000_000 });
  } catch (e) {
    failure = (e as Error).message;
  }
  progress.finish();
  net.watching = false;
  file?.close();
  if (verbose) {
    const secs = (sim.now - t0) / 1e6;
    io.err(
      `${formatTime(sim.now - t0)} done: ${data.length} bytes sent, ${got} received, ${frames} packets${udp ? '' : `, ${retrans} retransmissions`}, ${secs.toFixed(3)} s virtual${secs > 0 ? `, ${((got * 8) / secs / 1e6).toFixed(2)} Mbit/s` : ''}`,
    );
  }
  if (pcapPath !== undefined) io.err(`wrote ${pcapPath}`);
  if (failure !== undefined) {
    io.err(`sockstack nc: ${failure}`);
    return EXIT_FAILURE;
  }
  if (!udp && got !== data.length) {
    io.err(`sockstack nc: ${got} of ${data.length} bytes arrived`);
    return EXIT_FAILURE;
  }
  return EXIT_OK;
}
