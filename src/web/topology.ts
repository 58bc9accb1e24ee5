/**
 * The picture of the network: client, router and server with the two subnets
 * between them, each host's TCP state under it, and the frame being shown drawn as
 * an arrow on its subnet. SVG markup as a string (built with src/plot/svg.ts).
 */
import { el, type SvgNode, serialize } from '../plot/svg.ts';
import type { FrameEvent } from './echo-session.ts';

const W = 720;
const H = 170;
const HOSTS = {
  client: { x: 70, lines: ['client', '10.0.1.2'] },
  router: { x: 360, lines: ['router', '10.0.1.1 | 10.0.2.1'] },
  server: { x: 650, lines: ['server', '10.0.2.2'] },
} as const;
const BOX_W = 130;
const BOX_Y = 40;
const BOX_H = 52;

export function topologySvg(
  states: { client: string; server: string },
  frame: FrameEvent | undefined,
): string {
  const link = (subnet: 0 | 1): SvgNode => {
    const [a, b] = subnet === 0 ? [HOSTS.client, HOSTS.router] : [HOSTS.router, HOSTS.server];
    const active = frame?.subnet === subnet;
    return el(
      'g',
      { class: active ? 'link active' : 'link' },
      el('line', {
        x1: a.x + BOX_W / 2,
        y1: BOX_Y + BOX_H / 2,
        x2: b.x - BOX_W / 2,
        y2: BOX_Y + BOX_H / 2,
        stroke: active ? '#1a3d99' : '#595959',
        'stroke-width': active ? 4 : 2,
      }),
      el(
        'text',
        { x: (a.x + b.x) / 2, y: BOX_Y - 12, 'text-anchor': 'middle', fill: '#333333' },
        subnet === 0 ? '10.0.1.0/24' : '10.0.2.0/24',
      ),
    );
  };
  const host = (name: keyof typeof HOSTS): SvgNode => {
    const h = HOSTS[name];
    const state = name === 'router' ? 'forwards' : states[name];
    const busy = frame !== undefined && (frame.from === name || frame.to === name || frame.to === 'everyone');
    return el(
      'g',
      { class: `host ${name}` },
      el('rect', {
        x: h.x - BOX_W / 2,
        y: BOX_Y,
        width: BOX_W,
        height: BOX_H,
        rx: 6,
        fill: busy ? '#e8eefc' : '#ffffff',
        stroke: '#333333',
      }),
      el(
        'text',
        { x: h.x, y: BOX_Y + 21, 'text-anchor': 'middle', 'font-weight': 'bold', fill: '#111111' },
        h.lines[0],
      ),
      el('text', { x: h.x, y: BOX_Y + 40, 'text-anchor': 'middle', fill: '#333333' }, h.lines[1]),
      el(
        'text',
        { class: 'state', x: h.x, y: BOX_Y + BOX_H + 20, 'text-anchor': 'middle', fill: '#6b2d7a' },
        state,
      ),
    );
  };
  const arrow = (): SvgNode | undefined => {
    if (!frame) return undefined;
    const [a, b] = frame.subnet === 0 ? [HOSTS.client, HOSTS.router] : [HOSTS.router, HOSTS.server];
    const fromLeft = frame.from === (frame.subnet === 0 ? 'client' : 'router');
    const y = BOX_Y + BOX_H + 42;
    const x1 = fromLeft ? a.x : b.x;
    const x2 = fromLeft ? b.x : a.x;
    const head = fromLeft ? -8 : 8;
    return el(
      'g',
      { class: 'frame-arrow' },
      el('line', { x1, y1: y, x2, y2: y, stroke: '#1a3d99', 'stroke-width': 2 }),
      el('path', { d: `M${x2},${y} l${head},-5 l0,10 z`, fill: '#1a3d99' }),
      el(
        'text',
        { x: (x1 + x2) / 2, y: y + 18, 'text-anchor': 'middle', fill: '#1a3d99' },
        `#${frame.index}`,
      ),
    );
  };
  return serialize(
    el(
      'svg',
      {
        xmlns: 'http://www.w3.org/2000/svg',
        viewBox: `0 0 ${W} ${H}`,
        role: 'img',
        'aria-label': `client, router and server on two subnets${frame ? `; frame #${frame.index} on its way from ${frame.from} to ${frame.to}` : ''}`,
        'font-family': 'system-ui, sans-serif',
        'font-size': 13,
      },
      link(0),
      link(1),
      host('client'),
      host('router'),
      host('server'),
      arrow(),
    ),
  );
}
