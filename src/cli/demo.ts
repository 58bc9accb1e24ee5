/** `sockstack demo`: a TCP conversation between two virtual hosts, shown layer by layer. */
import { type CliIo, type Command, notAvailable, num, oneOf, type Parsed } from './command.ts';

export const command: Command = {
  spec: {
    name: 'demo',
    summary: 'watch a TCP conversation layer by layer (Ethernet → IP → TCP → data)',
    usage: ['[options]'],
    description:
      'Builds the built-in virtual network (client 10.0.1.2 and server 10.0.2.2, two\n' +
      'subnets joined by a router), runs an echo exchange over the sockets API and\n' +
      'prints every packet as nested envelopes with the socket calls and TCP states\n' +
      'that caused it.',
    options: {
      scenario: {
        type: 'string',
        value: 'NAME',
        description: 'handshake | echo | loss | refused',
        default: 'echo',
      },
      message: {
        type: 'string',
        short: 'm',
        value: 'TEXT',
        description: 'what the client sends',
        default: '"hello"',
      },
      loss: { type: 'string', value: 'PERCENT', description: 'packet loss on the client link', default: '0' },
      seed: { type: 'string', value: 'N', description: 'random seed (same seed, same run)', default: '1' },
      layout: { type: 'string', value: 'box|tree', description: 'envelope layout', default: 'box' },
      brief: { type: 'boolean', short: 'b', description: 'one line per packet instead of envelopes' },
      pcap: {
        type: 'string',
        short: 'w',
        value: 'FILE',
        description: 'also write the packets to a pcapng file',
      },
    },
    positionals: { min: 0, max: 0, names: '' },
    examples: ['sockstack demo', 'sockstack demo --scenario loss --loss 20 --seed 3', 'npm start'],
  },
  run: async (p: Parsed, io: CliIo) => {
    oneOf(p, 'scenario', ['handshake', 'echo', 'loss', 'refused'] as const, 'echo');
    oneOf(p, 'layout', ['box', 'tree'] as const, 'box');
    num(p, 'loss', 0, { min: 0, max: 100 });
    num(p, 'seed', 1, { integer: true });
    return notAvailable('demo', 'needs the TCP sockets over the stack', io);
  },
};
