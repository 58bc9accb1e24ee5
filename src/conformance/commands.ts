/**
 * Backtick shell commands in packetdrill scripts, mapped to target settings and
 * built-in checks. Nothing is ever executed: a command is understood from a fixed
 * table or the script is skipped with the reason. The tables are documented in
 * docs/conformance.md.
 */

import { SOCKSTAT_STATES } from './symbols.ts';
import type { TargetSetting } from './target.ts';

export type CommandAction =
  /** Apply a setting; `advisory` ones are ignored when the target lacks the knob. */
  | {
      readonly kind: 'setting';
      readonly setting: TargetSetting;
      readonly advisory: boolean;
      readonly source: string;
    }
  | { readonly kind: 'noop'; readonly source: string }
  /** `sockstat ... | grep -c STATE | grep N`: N connections in STATE (optionally on a port). */
  | {
      readonly kind: 'state-count';
      readonly state: string;
      readonly port: number | undefined;
      readonly count: number;
      readonly source: string;
    }
  /** `tcpdrop -s STATE`. */
  | { readonly kind: 'drop'; readonly state: string; readonly source: string };

export type CommandPlan =
  | { readonly ok: true; readonly actions: CommandAction[] }
  | { readonly ok: false; readonly reason: string };

type Rule =
  /** Maps the value to a setting; returns undefined when the value cannot be expressed. */
  | {
      readonly kind: 'setting';
      readonly map: (v: string) => TargetSetting[] | undefined;
      readonly advisory?: boolean;
    }
  | { readonly kind: 'noop'; readonly why: string }
  /** Harmless only when the value is the default; otherwise the script is skipped. */
  | { readonly kind: 'default-only'; readonly defaultValue: string; readonly why: string };

const int = (v: string): number => Number.parseInt(v, 10);
const bool = (v: string): boolean => int(v) !== 0;
/** Middle of a "min default max" triple. */
const middle = (v: string): number => int(v.trim().split(/\s+/)[1] ?? v);
/** Last of a "min default max" triple. */
const last = (v: string): number => int(v.trim().split(/\s+/).at(-1) ?? v);
const set = (name: string, value: number | boolean | string): TargetSetting[] => [{ name, value }];

/** Linux `net.ipv4.*` sysctls. */
export const LINUX_SYSCTLS: Record<string, Rule> = {
  'net.ipv4.tcp_timestamps': { kind: 'setting', map: (v) => set('timestamps', bool(v)) },
  'net.ipv4.tcp_sack': { kind: 'setting', map: (v) => set('sack', bool(v)) },
  'net.ipv4.tcp_invalid_ratelimit': { kind: 'setting', map: (v) => set('invalidRateLimitUs', int(v) * 1000) },
  'net.ipv4.tcp_challenge_ack_limit': { kind: 'setting', map: (v) => set('challengeAckLimit', int(v)) },
  'net.ipv4.tcp_dsack': { kind: 'setting', map: (v) => set('dsack', bool(v)), advisory: true },
  'net.ipv4.tcp_window_scaling': { kind: 'setting', map: (v) => set('windowScaling', bool(v)) },
  'net.ipv4.tcp_ecn': { kind: 'setting', map: (v) => set('ecn', int(v)) },
  'net.ipv4.tcp_ecn_option': { kind: 'noop', why: 'AccECN option policy; no AccECN scripts are run' },
  // tcp_rmem[1] is the default SO_RCVBUF; tcp_rmem[2] the largest the buffer may grow to, which is
  // what Linux sizes the window-scale shift for (tcp_select_initial_window: max(tcp_rmem[2],
  // rmem_max); rmem_max's default 212992 is smaller than every tcp_rmem[2] the scripts set).
  'net.ipv4.tcp_rmem': {
    kind: 'setting',
    map: (v) => [
      { name: 'recvBufferDefault', value: middle(v) },
      { name: 'maxRecvBuffer', value: last(v) },
    ],
    advisory: true,
  },
  // tcp_wmem[1] is the default SO_SNDBUF; tcp_wmem[2] the most autotuning grows it to (tcp_sndbuf_expand).
  'net.ipv4.tcp_wmem': {
    kind: 'setting',
    map: (v) => [
      { name: 'sendBufferDefault', value: middle(v) },
      { name: 'maxSendBuffer', value: last(v) },
    ],
    advisory: true,
  },
  'net.ipv4.tcp_syn_retries': { kind: 'setting', map: (v) => set('synRetries', int(v)) },
  'net.ipv4.tcp_synack_retries': { kind: 'setting', map: (v) => set('synAckRetries', int(v)) },
  'net.ipv4.tcp_frto': { kind: 'setting', map: (v) => set('frto', int(v)), advisory: true },
  'net.ipv4.tcp_fack': { kind: 'noop', why: 'FACK was removed from Linux' },
  'net.ipv4.tcp_reordering': { kind: 'setting', map: (v) => set('dupThresh', int(v)), advisory: true },
  'net.ipv4.tcp_congestion_control': {
    kind: 'setting',
    map: (v) => set('congestionControl', v),
    advisory: true,
  },
  'net.ipv4.tcp_slow_start_after_idle': {
    kind: 'setting',
    map: (v) => set('slowStartAfterIdle', bool(v)),
    advisory: true,
  },
  'net.ipv4.tcp_early_retrans': { kind: 'setting', map: (v) => set('tlp', int(v) >= 3), advisory: true },
  'net.ipv4.tcp_recovery': { kind: 'setting', map: (v) => set('recovery', int(v)), advisory: true },
  'net.ipv4.tcp_tso_win_divisor': { kind: 'noop', why: 'no TSO deferral in a software stack' },
  'net.ipv4.tcp_min_tso_segs': { kind: 'setting', map: (v) => set('minTsoSegs', int(v)), advisory: true },
  'net.ipv4.tcp_pacing_ss_ratio': { kind: 'noop', why: 'pacing ratio (fq qdisc only)' },
  'net.ipv4.tcp_pacing_ca_ratio': { kind: 'noop', why: 'pacing ratio (fq qdisc only)' },
  'net.ipv4.tcp_notsent_lowat': { kind: 'setting', map: (v) => set('notSentLowat', int(v)), advisory: true },
  'net.ipv4.tcp_fastopen': { kind: 'setting', map: (v) => set('fastOpen', Number(v)), advisory: true },
  'net.ipv4.tcp_fastopen_key': { kind: 'setting', map: (v) => set('fastOpenKey', v), advisory: true },
  'net.ipv4.tcp_syncookies': { kind: 'setting', map: (v) => set('synCookies', int(v)), advisory: true },
  'net.ipv4.tcp_mtu_probing': { kind: 'setting', map: (v) => set('mtuProbing', int(v)) },
  'net.ipv4.tcp_fin_timeout': { kind: 'setting', map: (v) => set('finTimeoutUs', int(v) * 1_000_000) },
  'net.ipv4.tcp_keepalive_time': { kind: 'setting', map: (v) => set('keepIdleUs', int(v) * 1_000_000) },
  'net.ipv4.tcp_keepalive_intvl': { kind: 'setting', map: (v) => set('keepIntervalUs', int(v) * 1_000_000) },
  'net.ipv4.tcp_keepalive_probes': { kind: 'setting', map: (v) => set('keepCount', int(v)) },
  'net.ipv4.tcp_retries2': { kind: 'setting', map: (v) => set('maxRetransmits', int(v)) },
  'net.ipv4.tcp_rfc1337': { kind: 'setting', map: (v) => set('rfc1337', bool(v)) },
  'net.ipv4.tcp_abort_on_overflow': {
    kind: 'default-only',
    defaultValue: '0',
    why: 'listen-queue overflow policy',
  },
};

/** FreeBSD `net.inet.tcp.*` and `kern.ipc.*` sysctls (times in ms). */
export const FREEBSD_SYSCTLS: Record<string, Rule> = {
  'net.inet.tcp.rfc1323': {
    kind: 'setting',
    map: (v) => [
      { name: 'timestamps', value: int(v) === 1 || int(v) === 3 },
      { name: 'windowScaling', value: int(v) === 1 || int(v) === 2 },
    ],
  },
  // The default controller (FreeBSD 14: cubic); a script written for NewReno sets it so.
  'net.inet.tcp.cc.algorithm': { kind: 'setting', map: (v) => set('congestionControl', v) },
  'net.inet.tcp.sack.enable': { kind: 'setting', map: (v) => set('sack', bool(v)) },
  'net.inet.tcp.ecn.enable': { kind: 'setting', map: (v) => set('ecn', int(v)) },
  'net.inet.tcp.blackhole': {
    kind: 'default-only',
    defaultValue: '0',
    why: 'RST suppression for closed ports',
  },
  'net.inet.tcp.rexmit_slop': {
    kind: 'setting',
    map: (v) => set('rtoSlopUs', int(v) * 1000),
    advisory: true,
  },
  'net.inet.tcp.rexmit_min': { kind: 'setting', map: (v) => set('minRtoUs', int(v) * 1000) },
  'net.inet.tcp.rexmit_initial': { kind: 'setting', map: (v) => set('initialRtoUs', int(v) * 1000) },
  'net.inet.tcp.rexmit_drop_options': {
    kind: 'default-only',
    defaultValue: '0',
    why: 'dropping SYN options on retransmission',
  },
  // sb_max: FreeBSD's window-scale shift covers it (tcp_connect/syncache: TCP_MAXWIN << s >= sb_max).
  'kern.ipc.maxsockbuf': { kind: 'setting', map: (v) => set('maxSocketBuffer', int(v)), advisory: true },
  'net.inet.tcp.recvspace': { kind: 'setting', map: (v) => set('recvBufferDefault', int(v)), advisory: true },
  'net.inet.tcp.sendspace': { kind: 'setting', map: (v) => set('sendBufferDefault', int(v)), advisory: true },
  'net.inet.tcp.sendbuf_max': { kind: 'setting', map: (v) => set('maxSendBuffer', int(v)), advisory: true },
  'net.inet.tcp.sendbuf_auto': {
    kind: 'setting',
    map: (v) => set('sendBufferAuto', bool(v)),
    advisory: true,
  },
  'net.inet.tcp.hostcache.purgenow': { kind: 'noop', why: 'the target starts with an empty host cache' },
  'net.inet.tcp.insecure_rst': { kind: 'setting', map: (v) => set('rfc5961Rst', !bool(v)) },
  'net.inet.tcp.insecure_syn': { kind: 'setting', map: (v) => set('rfc5961Syn', !bool(v)) },
  'net.inet.tcp.icmp_may_rst': { kind: 'setting', map: (v) => set('icmpMayReset', bool(v)) },
  'net.inet.tcp.keepinit': { kind: 'setting', map: (v) => set('keepInitUs', int(v) * 1000) },
  'net.inet.tcp.keepidle': { kind: 'setting', map: (v) => set('keepIdleUs', int(v) * 1000) },
  'net.inet.tcp.keepintvl': { kind: 'setting', map: (v) => set('keepIntervalUs', int(v) * 1000) },
  'net.inet.tcp.delacktime': { kind: 'setting', map: (v) => set('delayedAckUs', int(v) * 1000) },
  'net.inet.tcp.delayed_ack': { kind: 'setting', map: (v) => set('delayedAck', bool(v)) },
  'net.inet.tcp.drop_synfin': { kind: 'setting', map: (v) => set('dropSynFin', bool(v)) },
  'net.inet.tcp.tolerate_missing_ts': { kind: 'setting', map: (v) => set('tolerateMissingTs', bool(v)) },
  'net.inet.tcp.ack_war_timewindow': {
    kind: 'setting',
    map: (v) => set('invalidRateLimitUs', int(v) * 1000),
  },
  'net.inet.tcp.ack_war_cnt': { kind: 'setting', map: (v) => set('invalidRateBurst', int(v)) },
  'net.inet.tcp.mssdflt': { kind: 'setting', map: (v) => set('defaultMss', int(v)) },
  'net.inet.tcp.experimental.initcwnd10': {
    kind: 'setting',
    map: (v) => set('initialWindowSegments', bool(v) ? 10 : 4),
  },
  'net.inet.tcp.always_keepalive': { kind: 'setting', map: (v) => set('alwaysKeepalive', bool(v)) },
  // FreeBSD's Fast Open switches (tcp_fastopen.c): the client and server halves, as the bits
  // of Linux's net.ipv4.tcp_fastopen (0x1, 0x2) the stack reads.
  'net.inet.tcp.fastopen.client_enable': { kind: 'setting', map: (v) => set('fastOpenClient', bool(v)) },
  'net.inet.tcp.fastopen.server_enable': { kind: 'setting', map: (v) => set('fastOpenServer', bool(v)) },
  'net.inet.tcp.udp_tunneling_port': { kind: 'setting', map: (v) => set('udpTunnelingPort', int(v)) },
  'net.inet.tcp.udp_tunneling_overhead': {
    kind: 'setting',
    map: (v) => set('udpTunnelingOverhead', int(v)),
  },
};

/** The sysctls of google packetdrill's gtests/net/{tcp,.}/common/defaults.sh (the Linux baseline profile). */
export const LINUX_DEFAULTS_PROFILE: readonly string[] = [
  'net.ipv4.tcp_rmem=4096 540000 15728640',
  'net.ipv4.tcp_wmem=4096 262144 4194304',
  'net.ipv4.tcp_timestamps=1',
  'net.ipv4.tcp_syn_retries=5',
  'net.ipv4.tcp_synack_retries=5',
  'net.ipv4.tcp_frto=2',
  'net.ipv4.tcp_sack=1',
  'net.ipv4.tcp_dsack=1',
  'net.ipv4.tcp_fack=0',
  'net.ipv4.tcp_reordering=3',
  'net.ipv4.tcp_congestion_control=cubic',
  'net.ipv4.tcp_slow_start_after_idle=0',
  'net.ipv4.tcp_early_retrans=4',
  'net.ipv4.tcp_recovery=1',
  'net.ipv4.tcp_tso_win_divisor=3',
  'net.ipv4.tcp_ecn=0',
  'net.ipv4.tcp_ecn_option=2',
  'net.ipv4.tcp_pacing_ss_ratio=200',
  'net.ipv4.tcp_pacing_ca_ratio=120',
  'net.ipv4.tcp_notsent_lowat=4294967295',
  'net.ipv4.tcp_fastopen=0x70403',
  'net.ipv4.tcp_fastopen_key=a1a1a1a1-b2b2b2b2-c3c3c3c3-d4d4d4d4',
  'net.ipv4.tcp_syncookies=1',
];

/** Maps one `name=value` sysctl to actions. */
export function sysctlActions(name: string, value: string, source: string): CommandPlan {
  const rule = LINUX_SYSCTLS[name] ?? FREEBSD_SYSCTLS[name];
  if (!rule) return { ok: false, reason: `unmapped sysctl ${name}=${value}` };
  if (rule.kind === 'noop') return { ok: true, actions: [{ kind: 'noop', source }] };
  if (rule.kind === 'default-only') {
    if (value.trim() === rule.defaultValue) return { ok: true, actions: [{ kind: 'noop', source }] };
    return { ok: false, reason: `sysctl ${name}=${value} (${rule.why}) has no equivalent` };
  }
  const settings = rule.map(value);
  if (!settings) return { ok: false, reason: `sysctl ${name}=${value} has no equivalent` };
  return {
    ok: true,
    actions: settings.map((setting) => ({
      kind: 'setting',
      setting,
      advisory: rule.advisory === true,
      source,
    })),
  };
}

/** Splits `a=b c="d e f"` into pairs (shell-like quoting for the tcp_rmem triples). */
function assignments(text: string): [string, string][] | undefined {
  const out: [string, string][] = [];
  const re = /([\w.]+)=("([^"]*)"|'([^']*)'|(\S+))/g;
  let rest = text;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    out.push([m[1]!, m[3] ?? m[4] ?? m[5] ?? '']);
    rest = rest.replace(m[0], '');
  }
  if (rest.trim() !== '') return undefined;
  return out;
}

/** Evaluates `$((a*b))` arithmetic from defaults.sh style lines. */
function expandArithmetic(s: string): string {
  return s.replace(/\$\(\(\s*(\d+)\s*\*\s*(\d+)\s*\*\s*(\d+)\s*\)\)/g, (_, a, b, c) => String(a * b * c));
}

function planLine(line: string): CommandPlan {
  const source = line;
  let l = expandArithmetic(line.trim()).replace(/\s*>\s*\/dev\/null(\s*2>&1)?\s*$/, '');
  if (l === '' || l.startsWith('#')) return { ok: true, actions: [] };
  // defaults.sh from any directory: the Linux baseline profile.
  if (/(^|\/)defaults\.sh$/.test(l)) {
    const actions: CommandAction[] = [];
    for (const entry of LINUX_DEFAULTS_PROFILE) {
      const eq = entry.indexOf('=');
      const p = sysctlActions(entry.slice(0, eq), entry.slice(eq + 1), `${l}: ${entry}`);
      if (!p.ok) return p;
      actions.push(...p.actions);
    }
    return { ok: true, actions };
  }
  if (/^\/tmp\/sysctl_restore_\$\{?PPID\}?\.sh$/.test(l))
    return { ok: true, actions: [{ kind: 'noop', source }] };
  // The client's Fast Open cookies live in Linux's tcp_metrics: flushing forgets them.
  if (/^ip\s+tcp_metrics\s+flush/.test(l))
    return {
      ok: true,
      actions: [{ kind: 'setting', setting: { name: 'fastOpenFlush', value: true }, advisory: true, source }],
    };
  if (/^tc\s+qdisc\s/.test(l)) return { ok: true, actions: [{ kind: 'noop', source }] };
  if (/^ethtool\s+-K\s+\S+(\s+(tso|gso|gro|lro)\s+off)+$/.test(l))
    return { ok: true, actions: [{ kind: 'noop', source }] };
  // set_sysctls.py /proc/sys/net/ipv4/tcp_x=v ...
  let m = /^\S*set_sysctls\.py\s+(.*)$/.exec(l);
  if (m) {
    const actions: CommandAction[] = [];
    for (const arg of m[1]!.trim().split(/\s+/)) {
      const a = /^\/proc\/sys\/([\w/]+)=(.*)$/.exec(arg);
      if (!a) return { ok: false, reason: `cannot interpret set_sysctls.py argument '${arg}'` };
      const p = sysctlActions(a[1]!.replaceAll('/', '.'), a[2]!, source);
      if (!p.ok) return p;
      actions.push(...p.actions);
    }
    return { ok: true, actions };
  }
  m = /^sysctl\s+((?:-[qwn]+\s+)*)(.*)$/.exec(l);
  if (m) {
    const pairs = assignments(m[2]!);
    if (!pairs || pairs.length === 0) return { ok: false, reason: `cannot interpret '${l}'` };
    const actions: CommandAction[] = [];
    for (const [k, v] of pairs) {
      const p = sysctlActions(k, v, source);
      if (!p.ok) return p;
      actions.push(...p.actions);
    }
    return { ok: true, actions };
  }
  // sockstat -4 -P tcp [-p PORT] -s | [grep packetdril |] grep -c STATE | grep N
  m = /^sockstat\s+([^|]*)\|(.*)$/.exec(l);
  if (m) {
    const port = /-p\s+(\d+)/.exec(m[1]!);
    const g = /grep\s+-c\s+(\w+)\s*\|\s*grep\s+(\d+)\s*$/.exec(m[2]!);
    if (!g || !/-P\s+tcp/.test(m[1]!)) return { ok: false, reason: `cannot interpret '${l}'` };
    const state = SOCKSTAT_STATES[g[1]!];
    if (!state) return { ok: false, reason: `unknown socket state ${g[1]} in '${l}'` };
    return {
      ok: true,
      actions: [
        { kind: 'state-count', state, port: port ? Number(port[1]) : undefined, count: Number(g[2]), source },
      ],
    };
  }
  m = /^tcpdrop\s+-s\s+(\w+)$/.exec(l);
  if (m) {
    const state = SOCKSTAT_STATES[m[1]!];
    if (!state) return { ok: false, reason: `unknown socket state ${m[1]} in '${l}'` };
    return { ok: true, actions: [{ kind: 'drop', state, source }] };
  }
  l = l.split(/\s+/)[0] ?? l;
  return { ok: false, reason: `unsupported shell command '${source.trim()}'` };
}

/** Plans a (possibly multi-line) backtick command. */
export function planCommand(text: string): CommandPlan {
  const actions: CommandAction[] = [];
  for (const line of text.split('\n')) {
    const p = planLine(line);
    if (!p.ok) return p;
    actions.push(...p.actions);
  }
  return { ok: true, actions };
}
