import { type CommandAction, planCommand } from './commands.ts';
import { harnessFor } from './harness.ts';
import { ipToNumber } from './packet.ts';
import { DEFAULT_TOLERANCE_US, Failure, type RunState, Skip, SUPPORTED_SYSCALLS } from './run-state.ts';
import { ParseOptionsError } from './script.ts';
import { icmpCode, icmpType } from './symbols.ts';

export function applyOptions(r: RunState): void {
  r.exact = r.opts.exactOptions === true;
  const harness = harnessFor(r.opts.path);
  r.toleranceUs = r.opts.toleranceUs ?? harness?.toleranceUs ?? DEFAULT_TOLERANCE_US;
  if (r.opts.toleranceUs === undefined && harness?.toleranceUs !== undefined) {
    r.warnings.push(
      `--tolerance_usecs=${harness.toleranceUs} from the ${harness.suite} harness (${harness.source})`,
    );
  }
  for (const o of r.script.options) {
    const v = o.value ?? '';
    const num = (): number => {
      const n = Number(v);
      if (!Number.isFinite(n)) throw new ParseOptionsError(o.pos, `--${o.name} needs a number, got '${v}'`);
      return n;
    };
    switch (o.name) {
      case 'tolerance_usecs':
        r.toleranceUs = num();
        break;
      case 'tolerance_percent':
        r.tolerancePercent = num();
        break;
      case 'tcp_ts_tick_usecs':
        r.tsTickUs = num() || undefined;
        break;
      case 'ip_version':
        if (v !== 'ipv4') throw new Skip(`IPv6 not supported yet (--ip_version=${v})`, o.pos.line);
        break;
      case 'mtu':
        r.mtu = num();
        break;
      case 'local_ip':
        r.localIp = v;
        break;
      case 'remote_ip':
        r.remoteIp = v;
        break;
      case 'gateway_ip':
        r.gatewayIp = v;
        break;
      case 'netmask_ip':
        r.prefixLength = (ipToNumber(v).toString(2).match(/1/g) ?? []).length;
        break;
      case 'strict_segments':
        r.strictSegments = true;
        break;
      case 'tcp_options_exact':
        r.exact = true;
        break;
      case 'non_fatal':
        for (const k of v.split(',')) r.nonFatal.add(k.trim());
        break;
      case 'define':
      case 'D': {
        const eq = v.indexOf('=');
        if (eq > 0) r.defines[v.slice(0, eq)] = v.slice(eq + 1);
        else r.defines[v] = '1';
        break;
      }
      case 'udp_encapsulation':
        // FreeBSD's TCP-over-UDP tunnelling: `/udp(sport > dport)` packets are TCP segments
        // in UDP datagrams, and outbound UDP datagrams are read as such.
        if (v !== 'tcp') throw new Skip(`--udp_encapsulation=${v}: SCTP is not supported`, o.pos.line);
        r.udpEncapsTcp = true;
        break;
      case 'speed':
      case 'verbose':
      case 'bind_port':
      case 'connect_port':
        if (o.name === 'bind_port' || o.name === 'connect_port') {
          throw new Skip(`--${o.name} not supported by this runner`, o.pos.line);
        }
        break;
      default:
        throw new Skip(`unsupported option --${o.name}`, o.pos.line);
    }
  }
}

/** Static checks that make a script skip before it starts; plans its commands. */
export function prescan(r: RunState): Map<number, CommandAction[]> {
  const plans = new Map<number, CommandAction[]>();
  const plan = (text: string, key: number, line: number): void => {
    const p = planCommand(text);
    if (!p.ok) throw new Skip(p.reason, line);
    plans.set(key, p.actions);
  };
  if (r.script.initCommand) plan(r.script.initCommand.command, -1, r.script.initCommand.pos.line);
  r.script.events.forEach((e, i) => {
    const line = e.pos.line;
    if (e.kind === 'command') plan(e.command, i, line);
    if (e.kind === 'syscall' && !SUPPORTED_SYSCALLS.has(e.name)) {
      throw new Skip(`system call ${e.name}() not supported by the runner`, line);
    }
    if (e.kind === 'packet') {
      if (e.outer.length) throw new Skip('outer IP encapsulation (ipv4/ipv6 prefixes) not supported', line);
      if (e.ip?.flowLabel !== undefined) throw new Skip('IPv6 flow labels not supported yet', line);
      const p = e.packet;
      if (p.proto === 'tcp') {
        if (p.udpEncap && !r.udpEncapsTcp)
          throw new Failure(e.pos, "a '/udp(...)' packet needs --udp_encapsulation=tcp", 'other');
        if (p.seq.wildcard && e.direction === 'inbound') {
          throw new Skip("nplab '...(N)' sequence wildcard on an inbound packet", line);
        }
        if (Array.isArray(p.options)) {
          for (const o of p.options) {
            if (o.kind === 'md5') throw new Skip('TCP MD5 signatures (RFC 2385) not supported', line);
            if (o.kind === 'fo') throw new Skip('TCP Fast Open (RFC 7413) not supported', line);
            if (o.kind === 'accecn') throw new Skip('AccECN option not supported', line);
          }
        }
      }
      if (p.proto === 'icmp') {
        const t = icmpType(p.type);
        if (t === undefined) throw new Skip(`unknown ICMP type '${p.type}'`, line);
        if (icmpCode(t, p.code) === undefined)
          throw new Skip(`unknown ICMP code '${p.code}' for ${p.type}`, line);
      }
    }
  });
  if (r.script.cleanupCommand) {
    // The cleanup command always runs in packetdrill; we only need it to be harmless.
    const p = planCommand(r.script.cleanupCommand.command);
    if (!p.ok) r.warnings.push(`cleanup command ignored: ${p.reason}`);
  }
  return plans;
}
