/**
 * A frame as nested envelopes (Ethernet ⊃ IPv4 ⊃ TCP/UDP ⊃ data), drawn by the same
 * printer as `sockstack demo` (src/trace/format.ts) with each piece of text wrapped
 * in a <span class="r-ROLE"> for the page's style sheet instead of terminal colours.
 */
import { escapeXml } from '../plot/svg.ts';
import { formatEnvelope, type StyleFn } from '../trace/format.ts';
import { type FrameEvent, SUBNETS } from './echo-session.ts';

export const htmlStyle: StyleFn = (role, text) =>
  text === '' ? '' : `<span class="r-${role}">${escapeXml(text)}</span>`;

/** The envelope view of one frame, as HTML for a <pre>. */
export function envelopeHtml(f: FrameEvent): string {
  const to = f.to === 'everyone' ? 'everyone (broadcast)' : f.to;
  return formatEnvelope(f.dissection, {
    index: f.index,
    time: f.time,
    label: f.label,
    notes: [`on ${SUBNETS[f.subnet]}: ${f.from} → ${to}`, ...f.notes],
    // The label already names the TCP events; the box shows relative numbers only.
    ...(f.tcp ? { tcp: { ...f.tcp, events: [] } } : {}),
    style: htmlStyle,
  });
}
