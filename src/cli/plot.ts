/** `sockstack plot FILE.pcap`: a TCP time–sequence graph (tcptrace style) as SVG. */
import { writeFileSync } from 'node:fs';
import { tcpSeries, timeSequenceGraph } from '../plot/tcp-graph.ts';
import { endpointText } from '../trace/conversation.ts';
import { dissect, frameLinkType } from '../trace/dissect.ts';
import { framesFromPcap } from '../trace/frames.ts';
import {
  type CliIo,
  type Command,
  EXIT_FAILURE,
  EXIT_OK,
  flag,
  num,
  oneOf,
  type Parsed,
  str,
} from './command.ts';
import { InputError, readCaptureFile } from './pcap-input.ts';

type Capture = ReturnType<typeof readCaptureFile>;

/**
 * The records of one interface. A capture of several subnets (the demo's pcapng has
 * one interface per subnet) holds every forwarded segment once per interface, so
 * mixing them would count each segment twice (as a retransmission). Default: the
 * first interface that carries TCP. Returns an error message for a bad choice.
 */
function pickInterface(pcap: Capture, choice: string | undefined): Capture | string {
  const n = Math.max(1, pcap.interfaces.length);
  if (n === 1 && choice === undefined) return pcap;
  let iface: number | undefined;
  if (choice !== undefined) {
    iface = /^\d+$/.test(choice) ? Number(choice) : pcap.interfaces.findIndex((i) => i.name === choice);
    if (iface < 0 || iface >= n) {
      const names = pcap.interfaces.map((i, k) => `${k}${i.name ? ` (${i.name})` : ''}`).join(', ');
      return `no interface '${choice}' in the capture (interfaces: ${names || '0'})`;
    }
  } else {
    for (const r of pcap.records) {
      const lt = frameLinkType(pcap.interfaces[r.iface]?.linkType ?? pcap.linkType);
      if (lt !== undefined && dissect(r.data, lt).tcp !== undefined) {
        iface = r.iface;
        break;
      }
    }
    if (iface === undefined) return pcap;
  }
  return { ...pcap, records: pcap.records.filter((r) => r.iface === iface) };
}

export const command: Command = {
  spec: {
    name: 'plot',
    summary: 'draw a TCP time–sequence graph of a capture as SVG',
    usage: ['[options] FILE'],
    description:
      'Draws one direction of one TCP connection of FILE (pcap or pcapng) the way tcptrace\n' +
      "and Wireshark's stream graph do: x = time, y = relative sequence number. Data\n" +
      'segments are vertical bars (retransmissions in red), with the ACK line, the\n' +
      'receive-window line (ACK + scaled window), SACK blocks and SYN/FIN/RST marks.\n' +
      "Streams are numbered in order of first appearance, as tshark's tcp.stream.",
    options: {
      out: {
        type: 'string',
        short: 'o',
        value: 'FILE.svg',
        description: 'where to write the SVG',
        default: 'FILE with .svg',
      },
      stream: { type: 'string', short: 's', value: 'N', description: 'TCP stream number', default: '0' },
      direction: {
        type: 'string',
        short: 'd',
        value: 'a2b|b2a',
        description: "a2b = data sent by the stream's first sender",
        default: 'the direction with more data',
      },
      interface: {
        type: 'string',
        short: 'i',
        value: 'N|NAME',
        description: 'which interface of a pcapng capture (a router sees each segment on two)',
        default: 'the first one with TCP',
      },
      list: { type: 'boolean', short: 'l', description: 'list the TCP streams and exit' },
      width: { type: 'string', value: 'PX', description: 'image width', default: '960' },
      height: { type: 'string', value: 'PX', description: 'image height', default: '600' },
    },
    positionals: { min: 1, max: 1, names: 'FILE (a pcap or pcapng capture)' },
    examples: [
      'sockstack plot transfer.pcap',
      'sockstack plot --stream 1 --direction b2a -o reply.svg trace.pcapng',
    ],
  },
  run: runPlot,
};

async function runPlot(p: Parsed, io: CliIo): Promise<number> {
  const file = p.positionals[0];
  const stream = num(p, 'stream', 0, { min: 0, integer: true });
  const dirOpt = str(p, 'direction');
  const direction = dirOpt === undefined ? undefined : oneOf(p, 'direction', ['a2b', 'b2a'] as const, 'a2b');
  const width = num(p, 'width', 960, { min: 200, max: 20000, integer: true });
  const height = num(p, 'height', 600, { min: 150, max: 20000, integer: true });
  let pcap: ReturnType<typeof readCaptureFile>;
  try {
    pcap = readCaptureFile(file);
  } catch (e) {
    if (e instanceof InputError) {
      io.err(`sockstack plot: ${e.message}`);
      return EXIT_FAILURE;
    }
    throw e;
  }
  const picked = pickInterface(pcap, str(p, 'interface'));
  if (typeof picked === 'string') {
    io.err(`sockstack plot: ${picked}`);
    return EXIT_FAILURE;
  }
  const { frames } = framesFromPcap(picked);
  const series = tcpSeries(frames, { stream, ...(direction ? { direction } : {}) });
  if (flag(p, 'list')) {
    const convs = series?.conversations ?? tcpSeries(frames, { stream: 0 })?.conversations ?? [];
    if (convs.length === 0) io.out('no TCP streams');
    for (const c of convs) {
      io.out(
        `stream ${c.index}: ${endpointText(c.a)} <-> ${endpointText(c.b)}  a2b ${c.a2b.bytes} bytes, b2a ${Math.max(0, c.b2a.bytes)} bytes`,
      );
    }
    return EXIT_OK;
  }
  if (!series) {
    const n = tcpSeries(frames, { stream: 0 })?.conversations.length ?? 0;
    io.err(
      n === 0
        ? `sockstack plot: ${file} has no TCP packets`
        : `sockstack plot: no TCP stream ${stream} in ${file} (streams 0..${n - 1}; see --list)`,
    );
    return EXIT_FAILURE;
  }
  const out = str(p, 'out') ?? `${file.replace(/\.(pcapng|pcap|cap)$/i, '')}.svg`;
  const svg = timeSequenceGraph(series, { width, height });
  try {
    writeFileSync(out, svg);
  } catch (e) {
    io.err(`sockstack plot: cannot write ${out}: ${(e as Error).message}`);
    return EXIT_FAILURE;
  }
  const retrans = series.segments.filter((s) => s.retransmission).length;
  io.out(
    `wrote ${out}: stream ${series.stream} ${endpointText(series.sender)} → ${endpointText(series.receiver)}, ` +
      `${series.segments.length} data segments (${retrans} retransmitted), ${series.acks.length} ACKs, ${series.sacks.length} SACK blocks`,
  );
  return EXIT_OK;
}
