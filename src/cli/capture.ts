/** `sockstack capture FILE`: summarise a pcap/pcapng like tcpdump -r, or show every layer with -v. */
import { TcpTracker } from '../trace/conversation.ts';
import { dissect, frameLinkType } from '../trace/dissect.ts';
import { formatEnvelope, summaryLine } from '../trace/format.ts';
import { compileFilter, FilterError, type FrameFilter } from '../trace/frames.ts';
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
  UsageError,
} from './command.ts';
import { InputError, linkTypeText, readCaptureFile } from './pcap-input.ts';
import { styleFor } from './style.ts';

export const command: Command = {
  spec: {
    name: 'capture',
    summary: 'print the packets of a pcap/pcapng file, one line each or layer by layer',
    usage: ['[options] FILE [FILTER...]'],
    description:
      'Reads FILE (classic pcap or pcapng; Ethernet or raw-IP link type) and prints one\n' +
      'tcpdump-style line per packet, with TCP sequence numbers relative to each\n' +
      "connection's first (use -S for absolute). With -v every packet is shown as nested\n" +
      'envelopes: Ethernet frame ⊃ IP datagram ⊃ TCP/UDP/ICMP ⊃ data.\n\n' +
      'FILTER (also --filter) is a tiny subset of tcpdump filters, not BPF:\n' +
      '  tcp | udp | icmp | arp | ip | [src|dst] port N | [src|dst] host A.B.C.D\n' +
      "  combined with and, or, not and parentheses: 'tcp and port 80', 'not arp'.",
    options: {
      verbose: { type: 'boolean', short: 'v', description: 'envelope view: every layer of every packet' },
      count: {
        type: 'string',
        short: 'c',
        value: 'N',
        description: 'stop after N packets (after filtering)',
      },
      filter: { type: 'string', short: 'f', value: 'EXPR', description: 'show only packets matching EXPR' },
      absolute: { type: 'boolean', short: 'S', description: 'absolute TCP sequence numbers' },
      analysis: {
        type: 'boolean',
        short: 'A',
        description: 'append TCP analysis: handshake, FIN, RST, retransmission, dup ACK, window update',
      },
      time: {
        type: 'string',
        short: 't',
        value: 'MODE',
        description: 'timestamps: abs (as recorded), rel (since first packet), delta (since previous), none',
        default: 'abs',
      },
      layout: { type: 'string', value: 'box|tree', description: 'envelope layout for -v', default: 'box' },
      color: {
        type: 'string',
        value: 'auto|always|never',
        description: 'colour the envelope view',
        default: 'auto',
      },
    },
    positionals: { min: 1, max: Number.POSITIVE_INFINITY, names: 'FILE (a pcap or pcapng capture)' },
    examples: [
      'sockstack capture transfer.pcap',
      "sockstack capture -v -c 3 transfer.pcap 'tcp port 7'",
      'sockstack capture -A --filter icmp ping.pcapng',
    ],
  },
  run: runCapture,
};

async function runCapture(p: Parsed, io: CliIo): Promise<number> {
  const [file, ...rest] = p.positionals;
  const parts = [str(p, 'filter') ?? '', rest.join(' ')].filter((s) => s.trim() !== '');
  const filterText = parts.length > 1 ? parts.map((s) => `(${s})`).join(' and ') : (parts[0] ?? '');
  let filter: FrameFilter;
  try {
    filter = compileFilter(filterText);
  } catch (e) {
    if (e instanceof FilterError) throw new UsageError(e.message);
    throw e;
  }
  const limit = num(p, 'count', Number.POSITIVE_INFINITY, { min: 1, integer: true });
  const timeMode = oneOf(p, 'time', ['abs', 'rel', 'delta', 'none'] as const, 'abs');
  const layout = oneOf(p, 'layout', ['box', 'tree'] as const, 'box');
  const colorMode = oneOf(p, 'color', ['auto', 'always', 'never'] as const, 'auto');
  const style = styleFor(colorMode === 'always' || (colorMode === 'auto' && io.color));
  const verbose = flag(p, 'verbose');
  const absolute = flag(p, 'absolute');
  const analysis = flag(p, 'analysis');

  let pcap: ReturnType<typeof readCaptureFile>;
  try {
    pcap = readCaptureFile(file);
  } catch (e) {
    if (e instanceof InputError) {
      io.err(`sockstack capture: ${e.message}`);
      return EXIT_FAILURE;
    }
    throw e;
  }
  io.err(`reading from file ${file} (${pcap.format}), link-type ${linkTypeText(pcap.linkType)}`);
  // One tracker per capture interface: a router's capture sees each forwarded segment once
  // per subnet, and the second sighting is not a retransmission.
  const trackers = new Map<number, TcpTracker>();
  let shown = 0;
  let skipped = 0;
  let first: number | undefined;
  let prev: number | undefined;
  let index = 0;
  for (const rec of pcap.records) {
    index++;
    const lt = frameLinkType(pcap.interfaces[rec.iface]?.linkType ?? pcap.linkType);
    if (lt === undefined) {
      skipped++;
      continue;
    }
    const d = dissect(rec.data, lt);
    // The tracker sees every packet so relative numbers and analysis do not depend on the filter.
    let tracker = trackers.get(rec.iface);
    if (tracker === undefined) trackers.set(rec.iface, (tracker = new TcpTracker()));
    const obs = tracker.observe(d, rec.time);
    if (!filter(d)) continue;
    if (shown >= limit) break;
    first ??= rec.time;
    const time =
      timeMode === 'abs'
        ? rec.time
        : timeMode === 'rel'
          ? rec.time - first
          : timeMode === 'delta'
            ? rec.time - (prev ?? rec.time)
            : undefined;
    prev = rec.time;
    const tcp = absolute ? undefined : obs;
    if (verbose) {
      if (shown > 0) io.out('');
      io.out(
        formatEnvelope(d, {
          index,
          ...(time !== undefined ? { time } : {}),
          ...(tcp ? { tcp } : {}),
          layout,
          style,
        }),
      );
    } else {
      io.out(
        summaryLine(d, {
          ...(time !== undefined ? { time } : {}),
          ...(tcp ? { tcp } : {}),
          events: analysis,
        }),
      );
    }
    shown++;
  }
  if (skipped > 0) io.err(`${skipped} packet(s) skipped: link type not supported`);
  io.err(`${shown} packet(s) shown, ${pcap.records.length} in file`);
  return EXIT_OK;
}
