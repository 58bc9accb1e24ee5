/** `sockstack serve`: classic small servers on a stack. */
import { type CliIo, type Command, notAvailable, num, oneOf, type Parsed } from './command.ts';

export const command: Command = {
  spec: {
    name: 'serve',
    summary: 'run echo / discard / daytime / http servers on a stack',
    usage: ['[options]'],
    description:
      'Runs the servers on the virtual server host (10.0.2.2), or with --tap on a stack\n' +
      'attached to a TAP device so the host kernel can reach them.',
    options: {
      service: {
        type: 'string',
        short: 's',
        value: 'NAME',
        description: 'echo | discard | daytime | http',
        default: 'echo',
      },
      port: { type: 'string', short: 'p', value: 'PORT', description: 'port (default: the service port)' },
      tap: {
        type: 'string',
        value: 'IFNAME',
        description: 'serve on a TAP device instead of the virtual network',
      },
      address: {
        type: 'string',
        value: 'CIDR',
        description: 'stack address on the TAP link',
        default: '10.99.0.2/24',
      },
    },
    positionals: { min: 0, max: 0, names: '' },
    examples: ['sockstack serve --service http --tap tap0'],
  },
  run: async (p: Parsed, io: CliIo) => {
    oneOf(p, 'service', ['echo', 'discard', 'daytime', 'http'] as const, 'echo');
    num(p, 'port', 0, { min: 1, max: 65535, integer: true });
    return notAvailable('serve', 'needs the TCP sockets over the stack', io);
  },
};
