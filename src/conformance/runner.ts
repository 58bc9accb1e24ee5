/**
 * The packetdrill interpreter: runs one parsed script against a fresh
 * ConformanceTarget on a virtual clock and reports passed / failed (first
 * mismatch) / skipped (reason). Rules follow google packetdrill's run.c,
 * run_packet.c and run_system_call.c as summarised in
 * conformance/packetdrill/NOTES.md; deviations are marked "Deviation:" and
 * listed in docs/conformance.md.
 *
 * This file holds the public entry points, the result mapping and the event loop; the
 * parts live beside it: run-state (shared state, Failure/Skip), run-setup (options,
 * pre-scan), run-clock (virtual time), run-outbound / run-inbound (packets), run-syscalls
 * and run-code (commands, Python blocks).
 */
import type { Script } from './ast.ts';
import type { CommandAction } from './commands.ts';
import { advanceTo, joinPending, settle } from './run-clock.ts';
import { runActions, runCodeBlocks, snapshotCode } from './run-code.ts';
import { injectPacket } from './run-inbound.ts';
import { checkNoUnexpected, expectOutbound } from './run-outbound.ts';
import { applyOptions, prescan } from './run-setup.ts';
import { Failure, MAX_WAIT_US, type RunOptions, RunState, Skip } from './run-state.ts';
import { syscall } from './run-syscalls.ts';
import { ParseOptionsError, parseScriptSafe } from './script.ts';
import { type Dialect, syscallConstants } from './symbols.ts';
import type { TargetConfig, TargetFactory } from './target.ts';

export { tcpInfoVariables } from './run-code.ts';

export type OptionsMode = 'set' | 'exact';

export type { RunOptions } from './run-state.ts';

export type ScriptResult =
  | { readonly status: 'passed'; readonly optionsMode: OptionsMode; readonly warnings: readonly string[] }
  | {
      readonly status: 'failed';
      readonly optionsMode: OptionsMode;
      readonly line: number;
      readonly column: number;
      readonly message: string;
      readonly expected?: string;
      readonly got?: string;
      readonly warnings: readonly string[];
    }
  | {
      readonly status: 'skipped';
      readonly optionsMode: OptionsMode;
      readonly reason: string;
      readonly line?: number;
    };

/** Runs script text. Never throws for script problems: syntax errors are failures at their line. */
export async function runScriptText(
  source: string,
  factory: TargetFactory,
  opts: RunOptions = {},
): Promise<ScriptResult> {
  const mode: OptionsMode = opts.exactOptions ? 'exact' : 'set';
  const parsed = parseScriptSafe(source, opts.defines ?? { STANDARD: '1' });
  if (!parsed.ok) {
    return {
      status: 'failed',
      optionsMode: mode,
      line: parsed.pos.line,
      column: parsed.pos.col,
      message: `syntax error: ${parsed.message}`,
      warnings: [],
    };
  }
  return runScript(parsed.script, factory, opts);
}

/** Runs a parsed script on a fresh target from `factory`. */
export async function runScript(
  script: Script,
  factory: TargetFactory,
  opts: RunOptions = {},
): Promise<ScriptResult> {
  return execute(new RunState(script, opts), factory);
}

/** Script dialect: FreeBSD if the script says so by path, state names or sysctls. */
export function detectDialect(script: Script, path: string | undefined): Dialect {
  if (path && /freebsd|\/bsd\//i.test(path)) return 'freebsd';
  for (const e of script.events) {
    if (e.kind === 'code' && /\bTCPI_(?!OPT_)[A-Z_]+\b/.test(e.code)) return 'freebsd';
    if (e.kind === 'command' && /net\.inet\./.test(e.command)) return 'freebsd';
  }
  return 'linux';
}

async function execute(r: RunState, factory: TargetFactory): Promise<ScriptResult> {
  const modeNow = (): OptionsMode => (r.exact ? 'exact' : 'set');
  try {
    applyOptions(r);
    r.dialect = r.opts.dialect ?? detectDialect(r.script, r.opts.path);
    r.consts = syscallConstants(r.dialect);
    const plans = prescan(r);
    const config: TargetConfig = {
      ipVersion: r.ipVersion,
      localIp: r.localIp,
      remoteIp: r.remoteIp,
      gatewayIp: r.gatewayIp,
      prefixLength: r.prefixLength,
      mtu: r.mtu,
      dialect: r.dialect,
    };
    r.target = await factory(config);
    try {
      if (r.script.initCommand) runActions(r, plans.get(-1) ?? [], r.script.initCommand.pos);
      await events(r, plans);
      runCodeBlocks(r);
    } finally {
      r.target.close?.();
    }
    return { status: 'passed', optionsMode: modeNow(), warnings: r.warnings };
  } catch (e) {
    if (e instanceof Skip) {
      return {
        status: 'skipped',
        optionsMode: modeNow(),
        reason: e.message,
        ...(e.line ? { line: e.line } : {}),
      };
    }
    if (e instanceof Failure) {
      const why = r.target?.knownDeviation?.(r.opts.path, e.pos.line, e.message);
      if (why !== undefined) {
        return { status: 'skipped', optionsMode: modeNow(), reason: why, line: e.pos.line };
      }
      return {
        status: 'failed',
        optionsMode: modeNow(),
        line: e.pos.line,
        column: e.pos.col,
        message: e.message,
        ...(e.expected !== undefined ? { expected: e.expected } : {}),
        ...(e.got !== undefined ? { got: e.got } : {}),
        warnings: r.warnings,
      };
    }
    if (e instanceof ParseOptionsError) {
      return {
        status: 'failed',
        optionsMode: modeNow(),
        line: e.pos.line,
        column: e.pos.col,
        message: e.message,
        warnings: [],
      };
    }
    throw e;
  }
}

async function events(r: RunState, plans: Map<number, CommandAction[]>): Promise<void> {
  const evs = r.script.events;
  let anchorActual = 0; // actual time of the previous event
  let anchorScript = 0; // script (expected) time of the previous event
  let prevInbound = false;
  for (let i = 0; i < evs.length; i++) {
    const e = evs[i]!;
    const isInbound = e.kind === 'packet' && e.direction === 'inbound';
    // Consecutive inbound packets are anchored to the script time of the previous packet.
    const anchor = isInbound && prevInbound ? anchorScript : anchorActual;
    let expected: number;
    let lo: number;
    let hi: number;
    const t = e.time;
    if (t.kind === 'absolute') expected = lo = hi = t.usecs;
    else if (t.kind === 'relative') expected = lo = hi = anchor + t.usecs;
    else if (t.kind === 'range') {
      lo = (t.relative ? anchor : 0) + t.start;
      hi = (t.relative ? anchor : 0) + t.end;
      expected = lo;
    } else {
      expected = lo = r.now();
      hi = r.now() + MAX_WAIT_US;
    }
    const tol = Math.max(r.toleranceUs, (r.tolerancePercent / 100) * Math.max(0, expected - anchor));
    let actual: number;
    if (e.kind === 'packet' && e.direction === 'outbound') {
      const winLo = t.kind === 'any' ? Number.NEGATIVE_INFINITY : lo - tol;
      const winHi = t.kind === 'any' ? hi : hi + tol;
      actual = await expectOutbound(r, e, expected, winLo, winHi, tol);
    } else {
      await advanceTo(r, expected);
      checkNoUnexpected(r, e, tol, i);
      actual = r.now();
      if (e.kind === 'packet') injectPacket(r, e);
      else if (e.kind === 'syscall') {
        await joinPending(r);
        await syscall(r, e, expected);
      } else if (e.kind === 'command') runActions(r, plans.get(i) ?? [], e.pos);
      else snapshotCode(r, e);
      await settle(r);
    }
    anchorActual = actual;
    anchorScript = t.kind === 'absolute' || t.kind === 'relative' ? expected : actual;
    prevInbound = isInbound;
  }
  await joinPending(r);
  // Like packetdrill, packets still queued at the end are never read, so they do not fail.
}
