/**
 * TCP time–sequence graph (as tcptrace and Wireshark's "Stream Graph: tcptrace"):
 * x is time since the connection's first packet, y the relative sequence number
 * of one direction's data.
 *
 * - each data segment is a vertical bar from seq to seq+len (retransmissions in red);
 * - the ACK line is a step line of the receiver's cumulative ACK;
 * - the receive-window line is ACK + advertised window (scaled);
 * - SACK blocks from the receiver are thick marks at their edges' range;
 * - SYN, FIN and RST are marked with labelled dots.
 *
 * Every mark carries a class (`seg`, `seg retrans`, `sack`, `ack-line`, `win-line`,
 * `mark syn|fin|rst`) so tests and style sheets can find them.
 */

import {
  type Conversation,
  endpointText,
  type StreamDirection,
  type TcpEndpoint,
  TcpTracker,
} from '../trace/conversation.ts';
import { dissect } from '../trace/dissect.ts';
import type { TraceFrame } from '../trace/frames.ts';
import { TCP_FIN, TCP_RST, TCP_SYN } from '../wire/tcp.ts';
import {
  axes,
  el,
  legend,
  linearScale,
  niceTicks,
  type SvgNode,
  stepPathData,
  svgDocument,
  tickLabel,
} from './svg.ts';

export interface SeqSegment {
  /** µs since the stream's first packet. */
  readonly time: number;
  readonly seq: number;
  readonly end: number;
  readonly retransmission: boolean;
}

export interface SeqAck {
  readonly time: number;
  readonly ack: number;
  /** Right edge of the advertised window: ack + window (scaled). */
  readonly windowEdge: number;
}

export interface SeqMark {
  readonly time: number;
  readonly seq: number;
  readonly kind: 'syn' | 'fin' | 'rst';
}

export interface TcpSeries {
  readonly stream: number;
  readonly direction: StreamDirection;
  readonly sender: TcpEndpoint;
  readonly receiver: TcpEndpoint;
  /** Absolute time (µs) of the stream's first packet; all series times are relative to it. */
  readonly start: number;
  readonly segments: SeqSegment[];
  readonly acks: SeqAck[];
  readonly sacks: { readonly time: number; readonly left: number; readonly right: number }[];
  readonly marks: SeqMark[];
  /** All TCP streams in the trace (index = stream number). */
  readonly conversations: readonly Conversation[];
}

export interface SeriesOptions {
  /** Stream index (order of first appearance, as Wireshark's tcp.stream). Default 0. */
  stream?: number;
  /** a2b: data sent by the side that sent the stream's first packet. Default: the direction with more data. */
  direction?: StreamDirection;
}

/** Extracts one direction of one TCP stream from a trace. Undefined when the stream does not exist. */
export function tcpSeries(frames: readonly TraceFrame[], opts: SeriesOptions = {}): TcpSeries | undefined {
  const streamIndex = opts.stream ?? 0;
  const tracker = new TcpTracker();
  type Obs = {
    time: number;
    o: NonNullable<ReturnType<TcpTracker['observe']>>;
    flags: number;
    payload: number;
  };
  const seen: Obs[] = [];
  for (const f of frames) {
    const d = dissect(f.data, f.linkType);
    const o = tracker.observe(d, f.time);
    if (o && o.conversation.index === streamIndex && d.tcp) {
      seen.push({ time: f.time, o, flags: d.tcp.flags, payload: d.tcp.payloadLength });
    }
  }
  const conv = tracker.conversations[streamIndex];
  if (!conv) return undefined;
  const direction = opts.direction ?? (conv.b2a.bytes > conv.a2b.bytes ? 'b2a' : 'a2b');
  const start = conv.firstTime;
  const series: TcpSeries = {
    stream: streamIndex,
    direction,
    sender: direction === 'a2b' ? conv.a : conv.b,
    receiver: direction === 'a2b' ? conv.b : conv.a,
    start,
    segments: [],
    acks: [],
    sacks: [],
    marks: [],
    conversations: tracker.conversations,
  };
  for (const { time, o, flags, payload } of seen) {
    const t = time - start;
    if (o.direction === direction) {
      if (flags & TCP_SYN) series.marks.push({ time: t, seq: o.relSeq, kind: 'syn' });
      const dataSeq = o.relSeq + (flags & TCP_SYN ? 1 : 0);
      if (payload > 0) {
        series.segments.push({
          time: t,
          seq: dataSeq,
          end: dataSeq + payload,
          retransmission: o.events.includes('retransmission'),
        });
      }
      if (flags & TCP_FIN) series.marks.push({ time: t, seq: dataSeq + payload, kind: 'fin' });
      if (flags & TCP_RST) series.marks.push({ time: t, seq: o.relSeq, kind: 'rst' });
    } else {
      if (o.relAck !== undefined)
        series.acks.push({ time: t, ack: o.relAck, windowEdge: o.relAck + o.windowBytes });
      for (const b of o.sack) series.sacks.push({ time: t, left: b.left, right: b.right });
    }
  }
  return series;
}

export interface GraphOptions {
  width?: number;
  height?: number;
  title?: string;
  /** Draw the receive-window line (and scale y to it). Default true; off, a short stream's data stays legible. */
  window?: boolean;
}

const COLORS = {
  seg: '#1f4fbf',
  retrans: '#d62728',
  ack: '#2ca02c',
  win: '#b8860b',
  sack: '#9467bd',
  syn: '#000000',
  fin: '#7f7f7f',
  rst: '#d62728',
};

/** Renders a series as an SVG document. */
export function timeSequenceGraph(s: TcpSeries, opts: GraphOptions = {}): string {
  const W = opts.width ?? 960;
  const H = opts.height ?? 600;
  const left = 90;
  const top = 50;
  const pw = W - left - 30;
  const ph = H - top - 70;
  const times = [
    ...s.segments.map((x) => x.time),
    ...s.acks.map((x) => x.time),
    ...s.marks.map((x) => x.time),
    ...s.sacks.map((x) => x.time),
  ];
  const seqs = [
    ...s.segments.map((x) => x.end),
    ...s.acks.map((x) => (opts.window === false ? x.ack : x.windowEdge)),
    ...s.marks.map((x) => x.seq),
    ...s.sacks.map((x) => x.right),
  ];
  const tMax = Math.max(1, ...times) / 1e6;
  const yMax = Math.max(1, ...seqs);
  const xTicks = niceTicks(0, tMax, 8);
  const yTicks = niceTicks(0, yMax, 8);
  const x = linearScale([0, Math.max(tMax, xTicks[xTicks.length - 1])], [left, left + pw]);
  const y = linearScale([0, Math.max(yMax, yTicks[yTicks.length - 1])], [top + ph, top]);
  const X = (us: number) => x(us / 1e6);

  const segNodes: SvgNode[] = s.segments.map((g) => {
    const color = g.retransmission ? COLORS.retrans : COLORS.seg;
    const cx = X(g.time);
    return el(
      'g',
      { class: g.retransmission ? 'seg retrans' : 'seg', 'data-seq': g.seq, 'data-end': g.end },
      el('line', { x1: cx, y1: y(g.seq), x2: cx, y2: y(g.end), stroke: color, 'stroke-width': 1.5 }),
      el('line', { x1: cx - 2, y1: y(g.end), x2: cx + 2, y2: y(g.end), stroke: color }),
      el('line', { x1: cx - 2, y1: y(g.seq), x2: cx + 2, y2: y(g.seq), stroke: color }),
    );
  });
  const ackPts = s.acks.map((a) => [X(a.time), y(a.ack)] as const);
  const winPts = s.acks.map((a) => [X(a.time), y(a.windowEdge)] as const);
  const lines: SvgNode[] = [];
  if (ackPts.length) {
    lines.push(
      el('path', {
        class: 'ack-line',
        d: stepPathData(ackPts),
        fill: 'none',
        stroke: COLORS.ack,
        'stroke-width': 1.5,
      }),
    );
  }
  if (ackPts.length && opts.window !== false) {
    lines.push(
      el('path', {
        class: 'win-line',
        d: stepPathData(winPts),
        fill: 'none',
        stroke: COLORS.win,
        'stroke-width': 1.2,
        'stroke-dasharray': '5 3',
      }),
    );
  }
  const sackNodes = s.sacks.map((b) =>
    el('line', {
      class: 'sack',
      'data-left': b.left,
      'data-right': b.right,
      x1: X(b.time),
      y1: y(b.left),
      x2: X(b.time),
      y2: y(b.right),
      stroke: COLORS.sack,
      'stroke-width': 5,
      'stroke-opacity': 0.6,
    }),
  );
  const markNodes = s.marks.map((m) =>
    el(
      'g',
      { class: `mark ${m.kind}` },
      el('circle', { cx: X(m.time), cy: y(m.seq), r: 4, fill: COLORS[m.kind] }),
      el('text', { x: X(m.time) + 6, y: y(m.seq) - 6, fill: COLORS[m.kind] }, m.kind.toUpperCase()),
    ),
  );
  const retrans = s.segments.filter((g) => g.retransmission).length;
  const items = [
    { label: `data segments (${s.segments.length - retrans})`, color: COLORS.seg, shape: 'bar' as const },
    { label: `retransmissions (${retrans})`, color: COLORS.retrans, shape: 'bar' as const },
    { label: 'ACK', color: COLORS.ack, shape: 'line' as const },
    ...(opts.window === false
      ? []
      : [{ label: 'receive window', color: COLORS.win, shape: 'dash' as const }]),
    { label: `SACK blocks (${s.sacks.length})`, color: COLORS.sack, shape: 'tick' as const },
    { label: 'SYN / FIN / RST', color: COLORS.syn, shape: 'dot' as const },
  ];
  const title =
    opts.title ??
    `TCP stream ${s.stream}: ${endpointText(s.sender)} → ${endpointText(s.receiver)} (time–sequence)`;
  return svgDocument(
    W,
    H,
    [
      el('rect', { x: 0, y: 0, width: W, height: H, fill: 'white' }),
      el('text', { class: 'title', x: W / 2, y: 28, 'text-anchor': 'middle', 'font-size': 15 }, title),
      axes({
        left,
        top,
        width: pw,
        height: ph,
        x,
        y,
        xTicks,
        yTicks,
        xLabel: 'time (s)',
        yLabel: 'relative sequence number (bytes)',
        yFormat: (v) => tickLabel(v),
      }),
      el('g', { class: 'window' }, ...lines),
      el('g', { class: 'sacks' }, ...sackNodes),
      el('g', { class: 'segments' }, ...segNodes),
      el('g', { class: 'marks' }, ...markNodes),
      legend(left + 10, top + 10, items),
    ],
    title,
  );
}
