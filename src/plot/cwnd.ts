/**
 * Congestion window / RTT over time, from samples of a connection's state (the
 * TCP layer's `info()` snapshots: cwnd, ssthresh, rtt). cwnd and ssthresh share
 * the left axis (bytes, or segments when `mss` is given); RTT samples and SRTT
 * use the right axis (ms).
 */
import {
  axes,
  el,
  type LegendItem,
  legend,
  linearScale,
  niceTicks,
  pathData,
  type SvgNode,
  stepPathData,
  svgDocument,
} from './svg.ts';

export interface CwndSample {
  /** µs (virtual time). */
  readonly time: number;
  /** Congestion window, bytes. */
  readonly cwnd: number;
  /** Slow-start threshold, bytes; values of 2^30 and above count as "infinite" and are not drawn. */
  readonly ssthresh?: number;
  /** An RTT measurement, µs. */
  readonly rtt?: number;
  /** Smoothed RTT, µs. */
  readonly srtt?: number;
}

/** The sample for a TcpInfo-like snapshot (`rtt` there is the smoothed RTT). */
export function sampleFromInfo(
  time: number,
  info: { readonly cwnd: number; readonly ssthresh: number; readonly rtt?: number },
): CwndSample {
  return {
    time,
    cwnd: info.cwnd,
    ssthresh: info.ssthresh,
    ...(info.rtt !== undefined ? { srtt: info.rtt } : {}),
  };
}

export interface CwndChartOptions {
  width?: number;
  height?: number;
  title?: string;
  /** When given, windows are shown in segments of this size. */
  mss?: number;
}

const INFINITE_SSTHRESH = 2 ** 30;

export function cwndChart(samples: readonly CwndSample[], opts: CwndChartOptions = {}): string {
  const W = opts.width ?? 960;
  const H = opts.height ?? 480;
  const left = 90;
  const top = 50;
  const hasRtt = samples.some((s) => s.rtt !== undefined || s.srtt !== undefined);
  const pw = W - left - (hasRtt ? 90 : 30);
  const ph = H - top - 70;
  const unit = opts.mss ? opts.mss : 1;
  const t0 = samples.length ? samples[0].time : 0;
  const T = (s: CwndSample) => (s.time - t0) / 1e6;
  const ss = samples.filter(
    (s) => s.ssthresh !== undefined && s.ssthresh < INFINITE_SSTHRESH && Number.isFinite(s.ssthresh),
  );
  const wMax = Math.max(
    1,
    ...samples.map((s) => s.cwnd / unit),
    ...ss.map((s) => (s.ssthresh as number) / unit),
  );
  const tMax = Math.max(1e-3, ...samples.map(T));
  const xTicks = niceTicks(0, tMax, 8);
  const yTicks = niceTicks(0, wMax, 6);
  const x = linearScale([0, Math.max(tMax, xTicks[xTicks.length - 1])], [left, left + pw]);
  const y = linearScale([0, Math.max(wMax, yTicks[yTicks.length - 1])], [top + ph, top]);
  const rttMs = samples.flatMap((s) =>
    [s.rtt, s.srtt].filter((v): v is number => v !== undefined).map((v) => v / 1000),
  );
  const rMax = Math.max(1, ...rttMs);
  const rTicks = niceTicks(0, rMax, 6);
  const y2 = linearScale([0, Math.max(rMax, rTicks[rTicks.length - 1])], [top + ph, top]);

  const parts: SvgNode[] = [];
  if (samples.length) {
    parts.push(
      el('path', {
        class: 'cwnd-line',
        d: stepPathData(samples.map((s) => [x(T(s)), y(s.cwnd / unit)] as const)),
        fill: 'none',
        stroke: '#1f4fbf',
        'stroke-width': 2,
      }),
    );
  }
  if (ss.length) {
    parts.push(
      el('path', {
        class: 'ssthresh-line',
        d: stepPathData(ss.map((s) => [x(T(s)), y((s.ssthresh as number) / unit)] as const)),
        fill: 'none',
        stroke: '#d62728',
        'stroke-width': 1.5,
        'stroke-dasharray': '6 3',
      }),
    );
  }
  const srtt = samples.filter((s) => s.srtt !== undefined);
  if (srtt.length) {
    parts.push(
      el('path', {
        class: 'srtt-line',
        d: pathData(srtt.map((s) => [x(T(s)), y2((s.srtt as number) / 1000)] as const)),
        fill: 'none',
        stroke: '#2ca02c',
        'stroke-width': 1.5,
      }),
    );
  }
  const rtt = samples.filter((s) => s.rtt !== undefined);
  parts.push(
    el(
      'g',
      { class: 'rtt-samples' },
      ...rtt.map((s) =>
        el('circle', {
          class: 'rtt',
          cx: x(T(s)),
          cy: y2((s.rtt as number) / 1000),
          r: 2.5,
          fill: '#ff7f0e',
        }),
      ),
    ),
  );
  const items: LegendItem[] = [
    { label: opts.mss ? 'cwnd (segments)' : 'cwnd (bytes)', color: '#1f4fbf', shape: 'line' },
  ];
  if (ss.length) items.push({ label: 'ssthresh', color: '#d62728', shape: 'dash' });
  if (srtt.length) items.push({ label: 'SRTT (ms)', color: '#2ca02c', shape: 'line' });
  if (rtt.length) items.push({ label: 'RTT sample (ms)', color: '#ff7f0e', shape: 'dot' });
  const title = opts.title ?? 'Congestion window and RTT over time';
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
        yLabel: opts.mss ? 'window (segments)' : 'window (bytes)',
        ...(hasRtt ? { y2: { scale: y2, ticks: rTicks, label: 'RTT (ms)' } } : {}),
      }),
      el('g', { class: 'series' }, ...parts),
      legend(left + 10, top + 10, items),
    ],
    title,
  );
}
