import { type CommandAction, planCommand } from './commands.ts';
import { harnessFor } from './harness.ts';
import { canonicalIp, ipToNumber } from './packet.ts';
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
  const given = new Set<string>();
  for (const o of r.script.options) {
    const v = o.value ?? '';
    given.add(o.name);
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
        // packetdrill config.c: ipv4 (AF_INET sockets, IPv4 wire), ipv4-mapped-ipv6 (AF_INET6
        // sockets, IPv4 wire), ipv6 (AF_INET6 sockets, IPv6 wire).
        if (v === 'ipv4') [r.ipVersion, r.socketFamily] = [4, 'inet'];
        else if (v === 'ipv4-mapped-ipv6') [r.ipVersion, r.socketFamily] = [4, 'inet6'];
        else if (v === 'ipv6') [r.ipVersion, r.socketFamily] = [6, 'inet6'];
        else throw new ParseOptionsError(o.pos, `bad --ip_version: ${v}`);
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
  if (r.ipVersion === 6) {
    // packetdrill's IPv6 defaults (config.c): a ULA for the local interface (RFC 4193) and the
    // documentation prefix for the remote end (RFC 3849); the prefix length is always 48.
    if (!given.has('local_ip')) r.localIp = IPV6_DEFAULTS.local;
    if (!given.has('remote_ip')) r.remoteIp = IPV6_DEFAULTS.remote;
    if (!given.has('gateway_ip')) r.gatewayIp = IPV6_DEFAULTS.gateway;
    r.prefixLength = IPV6_DEFAULTS.prefixLength;
  }
  for (const [k, ip] of [
    ['local_ip', r.localIp],
    ['remote_ip', r.remoteIp],
    ['gateway_ip', r.gatewayIp],
  ] as const) {
    const o = r.script.options.find((x) => x.name === k);
    if (o && ip.includes(':') !== (r.ipVersion === 6))
      throw new ParseOptionsError(o.pos, `--${k}=${ip} is not an IPv${r.ipVersion} address`);
  }
  r.localIp = canonicalIp(r.localIp);
  r.remoteIp = canonicalIp(r.remoteIp);
  r.gatewayIp = canonicalIp(r.gatewayIp);
}

/** packetdrill's IPv6 addresses when a script names none (config.c DEFAULT_V6_LIVE_*). */
export const IPV6_DEFAULTS = {
  local: 'fd3d:fa7b:d17d::1',
  remote: '2001:db8::1',
  gateway: 'fd3d:fa7b:d17d::2',
  prefixLength: 48,
} as const;

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
      if (e.ip?.flowLabel !== undefined && r.ipVersion !== 6)
        throw new Failure(e.pos, 'a flow label needs --ip_version=ipv6', 'other');
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
            if (o.kind === 'accecn') throw new Skip('AccECN option not supported', line);
          }
        }
      }
      if (p.proto === 'icmp') {
        const t = icmpType(p.type, r.ipVersion);
        if (t === undefined) throw new Skip(`unknown ICMP type '${p.type}'`, line);
        if (icmpCode(t, p.code, r.ipVersion) === undefined)
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
