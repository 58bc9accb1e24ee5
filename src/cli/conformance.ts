/**
 * `sockstack conformance [options] <path>...`: runs packetdrill scripts (.pkt files,
 * directories searched recursively) against a target and prints one line per
 * script plus a summary line `N passed, M failed, K skipped`.
 *
 * Options:
 *   --json              one JSON document on stdout instead of text
 *   --exact-options     compare outbound TCP options exactly (default: as a set)
 *   --allow-unexpected  do not fail on outbound packets the script does not mention
 *   -D NAME[=VALUE]     define a symbol for #ifdef (default: -D STANDARD)
 *   --dialect=linux|freebsd  force the script dialect (default: detected)
 *   --tolerance-usecs=N timing tolerance (default: the suite harness's, else 4000)
 *   -v, --verbose       print warnings (ignored advisory settings, non-fatal mismatches)
 *
 * Exit code: 0 when nothing failed, 1 when a script failed, 2 on usage errors.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { type RunOptions, runScriptText, type ScriptResult } from '../conformance/runner.ts';
import { stackTargetFactory } from '../conformance/stack-target.ts';
import type { Dialect } from '../conformance/symbols.ts';
import type { TargetFactory } from '../conformance/target.ts';

export interface ConformanceIo {
  readonly out: (line: string) => void;
  readonly err: (line: string) => void;
}

const defaultIo: ConformanceIo = {
  out: (l) => process.stdout.write(`${l}\n`),
  err: (l) => process.stderr.write(`${l}\n`),
};

const USAGE =
  'usage: sockstack conformance [--json] [--exact-options] [--allow-unexpected] [-D NAME[=VALUE]] [--dialect=linux|freebsd] [--tolerance-usecs=N] [-v] <file.pkt|dir>...';

const HELP = `sockstack conformance — run packetdrill scripts against sockstack's TCP

Usage:
  sockstack conformance [options] FILE.pkt|DIR...

Runs each packetdrill script (directories are searched recursively for .pkt
files) against a fresh sockstack host on virtual time: the script's system calls
go through sockstack's sockets API, its inbound packets are injected, and every
packet the stack sends is compared with the script's expectations (flags,
sequence numbers, window, options, timing). Prints one line per script —
PASS, FAIL with the line, column, expected and actual packet, or SKIP with the
reason (a feature the runner does not model) — then "N passed, M failed, K skipped".

The dialect (Linux or FreeBSD sysctls, socket options and defaults) is detected
from the script and its path; --dialect forces it.

Options:
      --json              one JSON document on stdout instead of the lines
      --exact-options     compare outbound TCP options exactly (default: as a set,
                          padding and order ignored)
      --allow-unexpected  do not fail on outbound packets the script does not mention
  -D NAME[=VALUE]         define a symbol for #ifdef in scripts (default: -D STANDARD)
      --dialect=linux|freebsd
                          force the script dialect (default: detected)
      --tolerance-usecs=N timing tolerance in µs, as packetdrill's --tolerance_usecs
                          (default: what the script's suite harness passes — 100000
                          for gVisor's scripts — else packetdrill's 4000); a
                          --tolerance_usecs line in a script overrides it
  -v, --verbose           print warnings (ignored advisory settings, non-fatal mismatches)
  -h, --help              show this help and exit

Examples (from a clone of sockstack, whose corpus is test/fixtures/packetdrill):
  sockstack conformance test/fixtures/packetdrill
  sockstack conformance test/fixtures/packetdrill/nplab-packetdrill/gtests/net/packetdrill/tests/linux/close/close-so-linger-onoff-1-linger-0-rst.pkt
  sockstack conformance --json test/fixtures/packetdrill/google-packetdrill > results.json
  sockstack conformance -v --dialect=freebsd test/fixtures/packetdrill/freebsd-tcp-testsuite/snd-syn

Exit status: 0 nothing failed, 1 a script failed, 2 usage error.`;

/** Finds .pkt files under `p` (a file or a directory), sorted. */
export function findScripts(p: string): string[] {
  const st = statSync(p);
  if (st.isFile()) return [p];
  const out: string[] = [];
  for (const name of readdirSync(p).sort()) {
    const child = join(p, name);
    if (statSync(child).isDirectory()) out.push(...findScripts(child));
    else if (name.endsWith('.pkt')) out.push(child);
  }
  return out;
}

function describe(r: ScriptResult): string {
  if (r.status === 'passed') return '';
  if (r.status === 'skipped') return `${r.line ? `:${r.line}` : ''}: ${r.reason}`;
  let s = `:${r.line}:${r.column}: ${r.message}`;
  if (r.expected !== undefined || r.got !== undefined)
    s += ` [expected: ${r.expected ?? '?'}; got: ${r.got ?? '?'}]`;
  return s;
}

/**
 * The command body. `factory` builds a fresh target per script; the default is
 * sockstack's own stack (src/conformance/stack-target.ts).
 */
export async function conformanceCommand(
  argv: string[],
  factory: TargetFactory = stackTargetFactory,
  io: ConformanceIo = defaultIo,
): Promise<number> {
  let json = false;
  let exactOptions = false;
  let allowUnexpectedPackets = false;
  let verbose = false;
  let dialect: Dialect | undefined;
  let toleranceUs: number | undefined;
  const defines: Record<string, string> = {};
  let sawDefine = false;
  const paths: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--json') json = true;
    else if (a === '--exact-options') exactOptions = true;
    else if (a === '--allow-unexpected') allowUnexpectedPackets = true;
    else if (a === '-v' || a === '--verbose') verbose = true;
    else if (a.startsWith('--dialect=')) {
      const d = a.slice('--dialect='.length);
      if (d !== 'linux' && d !== 'freebsd') {
        io.err(`conformance: unknown dialect '${d}'\n${USAGE}`);
        return 2;
      }
      dialect = d;
    } else if (a.startsWith('--tolerance-usecs=') || a.startsWith('--tolerance_usecs=')) {
      const n = Number(a.slice(a.indexOf('=') + 1));
      if (!Number.isInteger(n) || n < 0) {
        io.err(
          `conformance: --tolerance-usecs needs a whole number of microseconds, got '${a.slice(a.indexOf('=') + 1)}'\n${USAGE}`,
        );
        return 2;
      }
      toleranceUs = n;
    } else if (a === '-D' || a.startsWith('-D')) {
      const def = a === '-D' ? argv[++i] : a.slice(2);
      if (!def) {
        io.err(`conformance: -D needs a symbol\n${USAGE}`);
        return 2;
      }
      const eq = def.indexOf('=');
      defines[eq < 0 ? def : def.slice(0, eq)] = eq < 0 ? '1' : def.slice(eq + 1);
      sawDefine = true;
    } else if (a === '-h' || a === '--help') {
      io.out(HELP);
      return 0;
    } else if (a.startsWith('-')) {
      io.err(`conformance: unknown option '${a}'\n${USAGE}`);
      return 2;
    } else paths.push(a);
  }
  if (paths.length === 0) {
    io.err(USAGE);
    return 2;
  }
  const files: string[] = [];
  for (const p of paths) {
    try {
      files.push(...findScripts(p));
    } catch {
      io.err(`conformance: cannot read '${p}'`);
      return 2;
    }
  }
  const opts: RunOptions = {
    exactOptions,
    allowUnexpectedPackets,
    defines: sawDefine ? defines : { STANDARD: '1' },
    ...(dialect ? { dialect } : {}),
    ...(toleranceUs !== undefined ? { toleranceUs } : {}),
  };
  const cwd = resolve('.');
  const results: { path: string; result: ScriptResult }[] = [];
  if (!json)
    io.out(
      `TCP options compared ${exactOptions ? 'exactly (--exact-options)' : 'as a set (padding and order ignored)'}`,
    );
  for (const f of files) {
    const shown = relative(cwd, f) || f;
    let result: ScriptResult;
    try {
      result = await runScriptText(readFileSync(f, 'utf8'), factory, { ...opts, path: f });
    } catch (e) {
      result = {
        status: 'failed',
        optionsMode: exactOptions ? 'exact' : 'set',
        line: 0,
        column: 0,
        message: `runner error: ${e instanceof Error ? e.message : String(e)}`,
        warnings: [],
      };
    }
    results.push({ path: shown, result });
    if (!json) {
      const tag = result.status === 'passed' ? 'PASS' : result.status === 'failed' ? 'FAIL' : 'SKIP';
      io.out(`${tag} ${shown}${describe(result)}`);
      if (verbose && result.status !== 'skipped')
        for (const w of result.warnings) io.out(`     warning: ${w}`);
    }
  }
  const count = (s: ScriptResult['status']) => results.filter((r) => r.result.status === s).length;
  const passed = count('passed');
  const failed = count('failed');
  const skipped = count('skipped');
  const summary = `${passed} passed, ${failed} failed, ${skipped} skipped`;
  if (json) {
    io.out(
      JSON.stringify(
        {
          optionsMode: exactOptions ? 'exact' : 'set',
          passed,
          failed,
          skipped,
          scripts: results.map(({ path, result }) => ({ path, ...result })),
        },
        null,
        2,
      ),
    );
  } else io.out(summary);
  return failed > 0 ? 1 : 0;
}
