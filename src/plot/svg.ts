/**
 * A tiny SVG builder: elements as plain objects, serialised to well-formed XML
 * (attribute values and text escaped; characters XML 1.0 forbids are dropped).
 * Plus the axis helpers the charts share: nice tick values and linear scales.
 */

export interface SvgNode {
  readonly name: string;
  readonly attrs: Readonly<Record<string, string | number | undefined>>;
  readonly children: readonly (SvgNode | string)[];
}

export type Attrs = Record<string, string | number | undefined>;

/** An element; undefined attributes are left out, string children become escaped text. */
export function el(
  name: string,
  attrs: Attrs = {},
  ...children: (SvgNode | string | undefined | false)[]
): SvgNode {
  return {
    name,
    attrs,
    children: children.filter((c): c is SvgNode | string => c !== undefined && c !== false),
  };
}

// XML 1.0 §2.2 Char: #x9 | #xA | #xD | [#x20-#xD7FF] | [#xE000-#xFFFD] | [#x10000-#x10FFFF].
const INVALID_XML = /[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu;

/** Escapes text for element content and attribute values (both quote kinds, so either works). */
export function escapeXml(text: string): string {
  return text
    .replace(INVALID_XML, '')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;');
}

const NAME = /^[A-Za-z_][A-Za-z0-9_.:-]*$/;

function fmtNumber(n: number): string {
  if (!Number.isFinite(n)) return '0';
  // Two decimals are plenty for pixels and keep files small.
  const r = Math.round(n * 100) / 100;
  return Object.is(r, -0) ? '0' : String(r);
}

/** Serialises a node (and its subtree). Throws on an invalid element or attribute name (a programming error). */
export function serialize(node: SvgNode, indent = ''): string {
  if (!NAME.test(node.name)) throw new Error(`svg: bad element name ${JSON.stringify(node.name)}`);
  let s = `${indent}<${node.name}`;
  for (const [k, v] of Object.entries(node.attrs)) {
    if (v === undefined) continue;
    if (!NAME.test(k)) throw new Error(`svg: bad attribute name ${JSON.stringify(k)}`);
    s += ` ${k}="${escapeXml(typeof v === 'number' ? fmtNumber(v) : v)}"`;
  }
  if (node.children.length === 0) return `${s}/>`;
  const onlyText = node.children.every((c) => typeof c === 'string');
  if (onlyText) return `${s}>${node.children.map((c) => escapeXml(c as string)).join('')}</${node.name}>`;
  const inner = node.children
    .map((c) => (typeof c === 'string' ? `${indent}  ${escapeXml(c)}` : serialize(c, `${indent}  `)))
    .join('\n');
  return `${s}>\n${inner}\n${indent}</${node.name}>`;
}

/** A complete SVG document (XML declaration, namespace, viewBox). */
export function svgDocument(
  width: number,
  height: number,
  children: (SvgNode | undefined | false)[],
  title?: string,
): string {
  const root = el(
    'svg',
    {
      xmlns: 'http://www.w3.org/2000/svg',
      width,
      height,
      viewBox: `0 0 ${fmtNumber(width)} ${fmtNumber(height)}`,
      'font-family': 'sans-serif',
      'font-size': 12,
    },
    title !== undefined ? el('title', {}, title) : undefined,
    ...children,
  );
  return `<?xml version="1.0" encoding="UTF-8"?>\n${serialize(root)}\n`;
}

/** A polyline/path `d` attribute from points. */
export function pathData(points: readonly (readonly [number, number])[]): string {
  return points.map(([x, y], i) => `${i === 0 ? 'M' : 'L'}${fmtNumber(x)} ${fmtNumber(y)}`).join(' ');
}

/** Step path: horizontal then vertical between successive points (a value holds until it changes). */
export function stepPathData(points: readonly (readonly [number, number])[]): string {
  const out: [number, number][] = [];
  for (let i = 0; i < points.length; i++) {
    if (i > 0) out.push([points[i][0], points[i - 1][1]]);
    out.push([points[i][0], points[i][1]]);
  }
  return pathData(out);
}

/** "Nice" tick values covering [min, max] (1, 2, 5 × 10^k steps), about `count` of them. */
export function niceTicks(min: number, max: number, count = 6): number[] {
  if (!Number.isFinite(min) || !Number.isFinite(max)) return [0];
  if (max < min) [min, max] = [max, min];
  if (max === min) {
    if (min === 0) return [0, 1];
    max = min + Math.abs(min) * 0.1 || 1;
  }
  const raw = (max - min) / Math.max(1, count);
  const mag = 10 ** Math.floor(Math.log10(raw));
  const norm = raw / mag;
  const step = (norm < 1.5 ? 1 : norm < 3 ? 2 : norm < 7 ? 5 : 10) * mag;
  const first = Math.ceil(min / step - 1e-9) * step;
  const out: number[] = [];
  for (let v = first; v <= max + step * 1e-9; v += step)
    out.push(Number((Math.round(v / step) * step).toPrecision(12)) || 0);
  return out;
}

/** Short label for a tick value: trims float noise, uses k/M suffixes for large numbers. */
export function tickLabel(v: number, unit = ''): string {
  const a = Math.abs(v);
  let s: string;
  if (a >= 1e6 && a % 1e5 === 0) s = `${+(v / 1e6).toFixed(2)}M`;
  else if (a >= 1e4 && a % 100 === 0) s = `${+(v / 1e3).toFixed(1)}k`;
  else s = String(+v.toPrecision(6));
  return s + unit;
}

/** A linear map from a data domain to a pixel range. */
export interface Scale {
  (v: number): number;
  readonly domain: readonly [number, number];
  readonly range: readonly [number, number];
}

export function linearScale(domain: [number, number], range: [number, number]): Scale {
  const [d0, d1] = domain;
  const [r0, r1] = range;
  const span = d1 - d0 || 1;
  const f = ((v: number) => r0 + ((v - d0) / span) * (r1 - r0)) as Scale;
  Object.defineProperty(f, 'domain', { value: [d0, d1] });
  Object.defineProperty(f, 'range', { value: [r0, r1] });
  return f;
}

export interface AxisOptions {
  /** Pixel box of the plot area. */
  readonly left: number;
  readonly top: number;
  readonly width: number;
  readonly height: number;
  readonly x: Scale;
  readonly y: Scale;
  readonly xTicks: readonly number[];
  readonly yTicks: readonly number[];
  readonly xLabel: string;
  readonly yLabel: string;
  readonly xFormat?: (v: number) => string;
  readonly yFormat?: (v: number) => string;
  /** A second y axis on the right. */
  readonly y2?: { scale: Scale; ticks: readonly number[]; label: string; format?: (v: number) => string };
}

/** Frame, grid, ticks and labels for a plot area. */
export function axes(o: AxisOptions): SvgNode {
  const bottom = o.top + o.height;
  const right = o.left + o.width;
  const xf = o.xFormat ?? ((v: number) => tickLabel(v));
  const yf = o.yFormat ?? ((v: number) => tickLabel(v));
  const parts: SvgNode[] = [];
  for (const t of o.xTicks) {
    const x = o.x(t);
    if (x < o.left - 0.5 || x > right + 0.5) continue;
    parts.push(el('line', { class: 'grid', x1: x, y1: o.top, x2: x, y2: bottom, stroke: '#e5e5e5' }));
    parts.push(el('line', { class: 'tick', x1: x, y1: bottom, x2: x, y2: bottom + 5, stroke: '#333' }));
    parts.push(el('text', { x, y: bottom + 18, 'text-anchor': 'middle' }, xf(t)));
  }
  for (const t of o.yTicks) {
    const y = o.y(t);
    if (y < o.top - 0.5 || y > bottom + 0.5) continue;
    parts.push(el('line', { class: 'grid', x1: o.left, y1: y, x2: right, y2: y, stroke: '#e5e5e5' }));
    parts.push(el('line', { class: 'tick', x1: o.left - 5, y1: y, x2: o.left, y2: y, stroke: '#333' }));
    parts.push(el('text', { x: o.left - 8, y: y + 4, 'text-anchor': 'end' }, yf(t)));
  }
  if (o.y2) {
    const f = o.y2.format ?? ((v: number) => tickLabel(v));
    for (const t of o.y2.ticks) {
      const y = o.y2.scale(t);
      if (y < o.top - 0.5 || y > bottom + 0.5) continue;
      parts.push(el('line', { class: 'tick', x1: right, y1: y, x2: right + 5, y2: y, stroke: '#333' }));
      parts.push(el('text', { x: right + 8, y: y + 4, 'text-anchor': 'start' }, f(t)));
    }
    const cx = right + 52;
    const cy = o.top + o.height / 2;
    parts.push(
      el('text', { x: cx, y: cy, 'text-anchor': 'middle', transform: `rotate(90 ${cx} ${cy})` }, o.y2.label),
    );
  }
  parts.push(
    el('rect', {
      class: 'frame',
      x: o.left,
      y: o.top,
      width: o.width,
      height: o.height,
      fill: 'none',
      stroke: '#333',
    }),
  );
  parts.push(el('text', { x: o.left + o.width / 2, y: bottom + 38, 'text-anchor': 'middle' }, o.xLabel));
  const lx = o.left - 58;
  const ly = o.top + o.height / 2;
  parts.push(
    el('text', { x: lx, y: ly, 'text-anchor': 'middle', transform: `rotate(-90 ${lx} ${ly})` }, o.yLabel),
  );
  return el('g', { class: 'axes' }, ...parts);
}

export interface LegendItem {
  readonly label: string;
  readonly color: string;
  /** How the swatch is drawn. */
  readonly shape: 'line' | 'bar' | 'dash' | 'dot' | 'tick';
}

/** A legend box at (x, y), one row per item. */
export function legend(x: number, y: number, items: readonly LegendItem[]): SvgNode {
  const rowH = 16;
  const w = 12 + Math.max(...items.map((i) => i.label.length)) * 6.5 + 34;
  const rows = items.map((it, i) => {
    const cy = y + 12 + i * rowH;
    let swatch: SvgNode;
    switch (it.shape) {
      case 'bar':
        swatch = el('line', {
          x1: x + 16,
          y1: cy - 6,
          x2: x + 16,
          y2: cy + 6,
          stroke: it.color,
          'stroke-width': 3,
        });
        break;
      case 'tick':
        swatch = el('line', {
          x1: x + 16,
          y1: cy - 5,
          x2: x + 16,
          y2: cy + 5,
          stroke: it.color,
          'stroke-width': 6,
        });
        break;
      case 'dot':
        swatch = el('circle', { cx: x + 16, cy, r: 4, fill: it.color });
        break;
      default:
        swatch = el('line', {
          x1: x + 6,
          y1: cy,
          x2: x + 26,
          y2: cy,
          stroke: it.color,
          'stroke-width': 2,
          'stroke-dasharray': it.shape === 'dash' ? '5 3' : undefined,
        });
    }
    return el('g', { class: 'legend-item' }, swatch, el('text', { x: x + 32, y: cy + 4 }, it.label));
  });
  return el(
    'g',
    { class: 'legend' },
    el('rect', {
      x,
      y,
      width: w,
      height: items.length * rowH + 8,
      fill: 'white',
      'fill-opacity': 0.9,
      stroke: '#999',
    }),
    ...rows,
  );
}
