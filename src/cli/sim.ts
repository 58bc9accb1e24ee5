/** `sockstack sim`: a bulk transfer across the virtual network under impairments, with plots. */
import { type CliIo, type Command, notAvailable, num, oneOf, type Parsed } from './command.ts';

export const command: Command = {
  spec: {
    name: 'sim',
    summary: 'simulate a TCP transfer under loss, delay and bandwidth limits',
    usage: ['[options]'],
    description:
      'Sends BYTES from the client to the server across the router in virtual time,\n' +
      'sampling the sender connection (cwnd, ssthresh, RTT), and reports goodput,\n' +
      'retransmissions and completion time. Same seed, same run.',
    options: {
      bytes: { type: 'string', short: 'n', value: 'N', description: 'bytes to transfer', default: '1000000' },
      loss: { type: 'string', value: 'PERCENT', description: 'random loss on the bottleneck', default: '0' },
      delay: { type: 'string', value: 'MS', description: 'one-way delay of the bottleneck', default: '10' },
      bandwidth: { type: 'string', value: 'MBIT', description: 'bottleneck rate in Mbit/s', default: '10' },
      queue: { type: 'string', value: 'PACKETS', description: 'bottleneck queue length', default: '100' },
      cc: {
        type: 'string',
        value: 'ALGO',
        description: 'congestion control: newreno | cubic',
        default: 'cubic',
      },
      seed: { type: 'string', value: 'N', description: 'random seed', default: '1' },
      pcap: { type: 'string', short: 'w', value: 'FILE', description: 'write the packets to a pcapng file' },
      plot: { type: 'string', value: 'FILE.svg', description: 'write a time–sequence graph' },
      'cwnd-plot': { type: 'string', value: 'FILE.svg', description: 'write a cwnd/RTT chart' },
    },
    positionals: { min: 0, max: 0, names: '' },
    examples: ['sockstack sim --loss 1 --delay 20 --cwnd-plot cwnd.svg --plot seq.svg'],
  },
  run: async (p: Parsed, io: CliIo) => {
    num(p, 'bytes', 1e6, { min: 1, integer: true });
    num(p, 'loss', 0, { min: 0, max: 100 });
    num(p, 'delay', 10, { min: 0 });
    num(p, 'bandwidth', 10, { min: 0 });
    oneOf(p, 'cc', ['newreno', 'cubic'] as const, 'cubic');
    return notAvailable('sim', 'needs the TCP sockets over the stack', io);
  },
};
