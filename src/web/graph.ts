/**
 * The time–sequence graph of the client's data (as `sockstack plot` draws it,
 * src/plot/tcp-graph.ts) from the frames shown so far, so it grows as the page
 * plays. Frames on the client's subnet only: the router's copies on the server's
 * subnet would draw every segment twice. Without the receive-window line: its
 * 64 KiB would squash a short message's few bytes into the axis.
 */
import { tcpSeries, timeSequenceGraph } from '../plot/tcp-graph.ts';
import type { TraceFrame } from '../trace/frames.ts';
import type { FrameEvent } from './echo-session.ts';

/** SVG markup for an inline <svg>, or undefined while no TCP segment has been shown. */
export function sequenceGraphSvg(frames: readonly FrameEvent[]): string | undefined {
  const trace: TraceFrame[] = frames
    .filter((f) => f.subnet === 0)
    .map((f) => ({ time: f.time, data: f.data, linkType: 'ethernet' }));
  const series = tcpSeries(trace, { direction: 'a2b' });
  if (!series) return undefined;
  const svg = timeSequenceGraph(series, {
    width: 720,
    height: 420,
    title: 'client → server: sequence numbers over time (seen on 10.0.1.0/24)',
    window: false,
  });
  // Inline in HTML: no XML declaration, and the size comes from the style sheet.
  return svg.replace(/^<\?xml[^>]*>\s*/, '').replace(/<svg ([^>]*?)width="\d+" height="\d+"/, '<svg $1');
}
