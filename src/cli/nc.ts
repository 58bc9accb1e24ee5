/** `sockstack nc`: netcat over the built-in virtual network. */
import { type CliIo, type Command, flag, notAvailable, num, type Parsed, UsageError } from './command.ts';

export const command: Command = {
  spec: {
    name: 'nc',
    summary: 'netcat over the built-in virtual network',
    usage: ['[options] [HOST] PORT', '-l [options] [-p PORT]'],
    description:
      'Connects from the virtual client 10.0.1.2 to HOST:PORT (default host 10.0.2.2, where\n' +
      'echo (7), discard (9) and daytime (13) servers run), copying stdin to the connection\n' +
      'and the connection to stdout. With -l it listens on the server instead and serves\n' +
      'one connection made by the built-in client.',
    options: {
      listen: { type: 'boolean', short: 'l', description: 'listen instead of connecting' },
      udp: { type: 'boolean', short: 'u', description: 'UDP instead of TCP' },
      port: { type: 'string', short: 'p', value: 'PORT', description: 'local port' },
      verbose: { type: 'boolean', short: 'v', description: 'print connection events to stderr' },
      trace: { type: 'boolean', short: 't', description: 'print every packet to stderr' },
      loss: { type: 'string', value: 'PERCENT', description: 'packet loss', default: '0' },
      delay: { type: 'string', value: 'MS', description: 'one-way delay per link', default: '1' },
      pcap: { type: 'string', short: 'w', value: 'FILE', description: 'write the packets to a pcapng file' },
    },
    positionals: { min: 0, max: 2, names: 'PORT' },
    examples: ['echo hello | sockstack nc 7', 'sockstack nc -u 10.0.2.2 7'],
  },
  run: async (p: Parsed, io: CliIo) => {
    if (!flag(p, 'listen') && p.positionals.length === 0) throw new UsageError('missing PORT');
    const port = p.positionals[p.positionals.length - 1];
    if (port !== undefined && !/^\d+$/.test(port)) throw new UsageError(`bad port '${port}'`);
    num(p, 'loss', 0, { min: 0, max: 100 });
    return notAvailable('nc', 'needs the TCP sockets over the stack', io);
  },
};
