/** Maps the trace printer's style roles to terminal colours (util.styleText, Node 20.12+). */
import { styleText } from 'node:util';
import { plain, type StyleFn, type StyleRole } from '../trace/format.ts';

type Format = Parameters<typeof styleText>[0];

const ROLES: Record<StyleRole, Format | undefined> = {
  border: 'gray',
  title: ['bold', 'cyan'],
  addr: 'yellow',
  port: 'yellow',
  flags: 'magenta',
  field: 'gray',
  value: undefined,
  data: 'green',
  error: ['bold', 'red'],
  label: ['bold', 'blue'],
  note: 'italic',
  dim: 'gray',
};

export const terminalStyle: StyleFn = (role, text) => {
  const f = ROLES[role];
  return f === undefined || text === '' ? text : styleText(f, text);
};

export function styleFor(color: boolean): StyleFn {
  return color ? terminalStyle : plain;
}
