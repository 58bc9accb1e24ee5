/** `sockstack tap`: attach a stack to a Linux TAP device so the host kernel can talk to it. */
import { type CliIo, type Command, notAvailable, type Parsed, str, UsageError } from './command.ts';

export const command: Command = {
  spec: {
    name: 'tap',
    summary: 'attach a stack to a Linux TAP device (needs CAP_NET_ADMIN)',
    usage: ['[options]'],
    description:
      'Opens (or creates) a TAP interface, gives the stack an address on it and answers\n' +
      'ARP and ping from the host kernel until interrupted. Needs root or CAP_NET_ADMIN;\n' +
      'run inside a network namespace to keep the host untouched.',
    options: {
      name: {
        type: 'string',
        short: 'i',
        value: 'IFNAME',
        description: 'TAP interface name',
        default: 'tap0',
      },
      address: {
        type: 'string',
        short: 'a',
        value: 'CIDR',
        description: "the stack's address",
        default: '10.99.0.2/24',
      },
      gateway: { type: 'string', short: 'g', value: 'ADDR', description: 'default route via ADDR' },
      pcap: { type: 'string', short: 'w', value: 'FILE', description: 'write the packets to a pcapng file' },
    },
    positionals: { min: 0, max: 0, names: '' },
    examples: ['sudo sockstack tap --name tap0 --address 10.99.0.2/24'],
  },
  run: async (p: Parsed, io: CliIo) => {
    const addr = str(p, 'address');
    if (addr !== undefined && !/^\d+\.\d+\.\d+\.\d+\/\d+$/.test(addr))
      throw new UsageError(`--address: '${addr}' is not A.B.C.D/N`);
    return notAvailable('tap', 'the TAP command is not wired up yet', io);
  },
};
