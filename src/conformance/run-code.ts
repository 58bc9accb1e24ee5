/** Shell commands (sysctls, state checks, drops) and the `%{ }%` Python blocks with their tcpi_* variables. */
import type { CodeEvent, Pos } from './ast.ts';
import type { CommandAction } from './commands.ts';
import { type PyValue, runCode } from './expr.ts';
import { type RunState, Skip } from './run-state.ts';
import { CODE_CONSTANTS, type Dialect, FREEBSD_TCP_STATES, LINUX_TCP_STATES } from './symbols.ts';
import type { TargetTcpInfo, TargetTcpState } from './target.ts';

export function runActions(r: RunState, actions: readonly CommandAction[], pos: Pos): void {
  for (const a of actions) {
    if (a.kind === 'noop') continue;
    if (a.kind === 'setting') {
      const ok = r.target.configure(a.setting);
      if (!ok) {
        if (a.advisory)
          r.warnings.push(`ignored advisory setting ${a.setting.name}=${a.setting.value} (${a.source})`);
        else
          throw new Skip(
            `target has no setting ${a.setting.name}=${String(a.setting.value)} (from '${a.source.trim()}')`,
            pos.line,
          );
      }
      continue;
    }
    if (a.kind === 'state-count') {
      const n = r.target
        .connections()
        .filter(
          (c) =>
            c.state === a.state &&
            (a.port === undefined || c.localPort === a.port || c.remotePort === a.port),
        ).length;
      if (n !== a.count) {
        r.fail(
          pos,
          `state check: ${n} connection(s) in ${a.state}, expected ${a.count} ('${a.source.trim()}')`,
          'other',
          String(a.count),
          String(n),
        );
      }
      continue;
    }
    if (a.kind === 'drop') {
      if (!r.target.dropConnections?.(a.state as TargetTcpState)) {
        throw new Skip(`target cannot drop connections ('${a.source.trim()}')`, pos.line);
      }
    }
  }
}

export function snapshotCode(r: RunState, e: CodeEvent): void {
  const sut = r.socketUnderTest === undefined ? undefined : r.fds.get(r.socketUnderTest);
  const info = sut === undefined ? undefined : r.target.tcpInfo(sut);
  r.codeSnapshots.push({ event: e, vars: tcpInfoVariables(info, r.dialect) });
}

/** packetdrill runs all blocks once, after the script, in one interpreter. */
export function runCodeBlocks(r: RunState): void {
  const vars = new Map<string, PyValue>(Object.entries(CODE_CONSTANTS));
  for (const { event, vars: snap } of r.codeSnapshots) {
    for (const [k, v] of snap) vars.set(k, v);
    const res = runCode(event.code, vars);
    if (!res.ok) {
      const pos = { line: event.codePos.line + res.line - 1, col: res.line === 1 ? event.codePos.col : 1 };
      r.fail(pos, res.message, 'other');
    }
  }
}

/** `tcpi_*` variables for a snapshot, in the dialect's units (FreeBSD: cwnd in bytes; Linux: in segments). */
export function tcpInfoVariables(info: TargetTcpInfo | undefined, dialect: Dialect): Map<string, PyValue> {
  const vars = new Map<string, PyValue>();
  const states = dialect === 'freebsd' ? FREEBSD_TCP_STATES : LINUX_TCP_STATES;
  vars.set('tcpi_state', states[info?.state ?? 'CLOSED']!);
  if (!info) return vars;
  const mss = info.sndMss;
  const set = (k: string, v: number | undefined): void => {
    if (v !== undefined) vars.set(k, v);
  };
  const segs = (bytes: number | undefined): number | undefined =>
    bytes === undefined
      ? undefined
      : dialect === 'freebsd'
        ? bytes
        : mss
          ? Math.floor(bytes / mss)
          : undefined;
  set('tcpi_snd_cwnd', segs(info.cwndBytes));
  set('tcpi_snd_ssthresh', segs(info.ssthreshBytes));
  set('tcpi_snd_mss', info.sndMss);
  set('tcpi_rcv_mss', info.rcvMss);
  set('tcpi_advmss', info.advMss);
  set('tcpi_rto', info.rtoUs);
  set('tcpi_rtt', info.rttUs);
  set('tcpi_rttvar', info.rttVarUs);
  set('tcpi_unacked', info.unacked);
  set('tcpi_sacked', info.sacked);
  set('tcpi_lost', info.lost);
  set('tcpi_retrans', info.retrans);
  set('tcpi_retransmits', info.retransmits);
  set('tcpi_total_retrans', info.totalRetrans);
  set('tcpi_backoff', info.backoff);
  set('tcpi_snd_wscale', info.sndWscale);
  set('tcpi_rcv_wscale', info.rcvWscale);
  set('tcpi_rcv_space', info.rcvSpace);
  set('tcpi_snd_wnd', info.sndWnd);
  set('tcpi_rcv_wnd', info.rcvWnd);
  set('tcpi_reordering', info.reordering);
  set('tcpi_pacing_rate', info.pacingRate);
  set('tcpi_delivery_rate', info.deliveryRate);
  if (info.caState !== undefined) {
    vars.set('tcpi_ca_state', { open: 0, disorder: 1, cwr: 2, recovery: 3, loss: 4 }[info.caState]);
  }
  if (
    info.timestamps !== undefined ||
    info.sack !== undefined ||
    info.windowScaling !== undefined ||
    info.ecn !== undefined
  ) {
    vars.set(
      'tcpi_options',
      (info.timestamps ? 1 : 0) |
        (info.sack ? 2 : 0) |
        (info.windowScaling ? 4 : 0) |
        (info.ecn ? 8 : 0) |
        (info.synData ? 32 : 0) |
        (info.tfoChild ? 128 : 0),
    );
  }
  return vars;
}
