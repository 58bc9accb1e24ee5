/**
 * The small framework every subcommand uses: an option table that drives both
 * node:util parseArgs and the --help text, a UsageError (exit 2) for bad input,
 * and the I/O handle commands write through (so tests can run them in-process).
 */
import { parseArgs } from 'node:util';

/** Exit codes: 0 ok, 1 runtime failure, 2 usage error. */
export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

export interface CliIo {
  out(text: string): void;
  err(text: string): void;
  readonly stdoutIsTTY: boolean;
  readonly stderrIsTTY: boolean;
  /** Whether to colour stdout. */
  readonly color: boolean;
  /** Writes raw progress text to stderr (no newline added). */
  progress(text: string): void;
  /** Columns of the terminal, when known. */
  readonly columns: number | undefined;
}

export function processIo(): CliIo {
  const env = process.env;
  const force = env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== '0';
  const color = force || (process.stdout.isTTY === true && env.NO_COLOR === undefined && env.TERM !== 'dumb');
  return {
    out: (t) => void process.stdout.write(`${t}\n`),
    err: (t) => void process.stderr.write(`${t}\n`),
    progress: (t) => void process.stderr.write(t),
    stdoutIsTTY: process.stdout.isTTY === true,
    stderrIsTTY: process.stderr.isTTY === true,
    color,
    columns: process.stdout.columns,
  };
}

export interface OptionSpec {
  readonly type: 'string' | 'boolean';
  readonly short?: string;
  readonly multiple?: boolean;
  /** Shown in help as `--name VALUE`. */
  readonly value?: string;
  readonly description: string;
  /** Shown in help; applied by the command (not by parseArgs, so "was it given" stays visible). */
  readonly default?: string;
}

export interface CommandSpec {
  readonly name: string;
  readonly summary: string;
  /** Usage lines after `sockstack NAME`. */
  readonly usage: readonly string[];
  readonly description?: string;
  readonly options: Readonly<Record<string, OptionSpec>>;
  /** Positional arguments allowed. */
  readonly positionals: { readonly min: number; readonly max: number; readonly names: string };
  readonly examples?: readonly string[];
}

export interface Parsed {
  readonly values: Record<string, string | boolean | string[] | boolean[] | undefined>;
  readonly positionals: string[];
}

export interface Command {
  readonly spec: CommandSpec;
  run(args: Parsed, io: CliIo): Promise<number>;
}

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

const HELP: OptionSpec = { type: 'boolean', short: 'h', description: 'show this help and exit' };

/** Parses argv for a command. Returns 'help' when --help/-h was given. Throws UsageError. */
export function parseCommand(spec: CommandSpec, argv: readonly string[]): Parsed | 'help' {
  if (argv.includes('--help') || argv.includes('-h')) {
    // Only when it is an option, not the value of one (`--filter -h` is odd enough to ignore).
    return 'help';
  }
  const options: Record<string, { type: 'string' | 'boolean'; short?: string; multiple?: boolean }> = {};
  for (const [name, o] of Object.entries({ ...spec.options, help: HELP })) {
    options[name] = {
      type: o.type,
      ...(o.short ? { short: o.short } : {}),
      ...(o.multiple ? { multiple: true } : {}),
    };
  }
  let parsed: { values: Parsed['values']; positionals: string[] };
  try {
    parsed = parseArgs({ args: [...argv], options, allowPositionals: true, strict: true }) as typeof parsed;
  } catch (e) {
    throw new UsageError(cleanParseError((e as Error).message));
  }
  const n = parsed.positionals.length;
  if (n < spec.positionals.min) {
    throw new UsageError(`missing ${spec.positionals.names}`);
  }
  if (n > spec.positionals.max) {
    throw new UsageError(`unexpected argument '${parsed.positionals[spec.positionals.max]}'`);
  }
  return parsed;
}

function cleanParseError(msg: string): string {
  // parseArgs messages are long ("... To specify a positional argument starting with a '-', place it at the end ...").
  const unknown = /Unknown option '([^']+)'/.exec(msg);
  if (unknown) return `unknown option '${unknown[1]}'`;
  const needs = /Option '([^']+)' argument missing/.exec(msg);
  if (needs) return `option '${needs[1].split(',').pop()?.trim()}' needs a value`;
  const noValue = /Option '([^']+)' does not take an argument/.exec(msg);
  if (noValue) return `option '${noValue[1].split(',').pop()?.trim()}' does not take a value`;
  return msg.split('. ')[0];
}

/** The --help text of a command. */
export function helpText(spec: CommandSpec): string {
  const lines: string[] = [];
  lines.push(`sockstack ${spec.name} — ${spec.summary}`, '', 'Usage:');
  for (const u of spec.usage) lines.push(`  sockstack ${spec.name} ${u}`.trimEnd());
  if (spec.description) lines.push('', ...spec.description.split('\n'));
  lines.push('', 'Options:');
  const rows: [string, string][] = [];
  for (const [name, o] of Object.entries({ ...spec.options, help: HELP })) {
    const flag = `${o.short ? `-${o.short}, ` : '    '}--${name}${o.type === 'string' ? ` ${o.value ?? 'VALUE'}` : ''}`;
    rows.push([flag, `${o.description}${o.default !== undefined ? ` (default ${o.default})` : ''}`]);
  }
  const w = Math.min(34, Math.max(...rows.map((r) => r[0].length)));
  for (const [f, d] of rows)
    lines.push(f.length > w ? `  ${f}\n  ${' '.repeat(w)}  ${d}` : `  ${f.padEnd(w)}  ${d}`);
  if (spec.examples?.length) {
    lines.push('', 'Examples:');
    for (const e of spec.examples) lines.push(`  ${e}`);
  }
  lines.push('', 'Exit status: 0 success, 1 runtime failure, 2 usage error.');
  return lines.join('\n');
}

// ------------------------------------------------------------------ value helpers

export function str(p: Parsed, name: string): string | undefined {
  const v = p.values[name];
  return typeof v === 'string' ? v : undefined;
}

export function flag(p: Parsed, name: string): boolean {
  return p.values[name] === true;
}

/** A number option with bounds; UsageError on garbage. */
export function num(
  p: Parsed,
  name: string,
  def: number,
  opts: { min?: number; max?: number; integer?: boolean } = {},
): number {
  const raw = str(p, name);
  if (raw === undefined) return def;
  const v = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(v)) throw new UsageError(`--${name}: '${raw}' is not a number`);
  if (opts.integer && !Number.isInteger(v)) throw new UsageError(`--${name}: '${raw}' is not a whole number`);
  if (opts.min !== undefined && v < opts.min) throw new UsageError(`--${name}: ${raw} is below ${opts.min}`);
  if (opts.max !== undefined && v > opts.max) throw new UsageError(`--${name}: ${raw} is above ${opts.max}`);
  return v;
}

export function oneOf<T extends string>(p: Parsed, name: string, choices: readonly T[], def: T): T {
  const raw = str(p, name);
  if (raw === undefined) return def;
  if (!(choices as readonly string[]).includes(raw)) {
    throw new UsageError(`--${name}: '${raw}' is not one of ${choices.join(', ')}`);
  }
  return raw as T;
}

/** Runs a command on argv with help and usage-error handling; returns the exit code. */
export async function runCommand(cmd: Command, argv: readonly string[], io: CliIo): Promise<number> {
  let parsed: Parsed | 'help';
  try {
    parsed = parseCommand(cmd.spec, argv);
  } catch (e) {
    if (e instanceof UsageError) return usageFailure(cmd.spec.name, e.message, io);
    throw e;
  }
  if (parsed === 'help') {
    io.out(helpText(cmd.spec));
    return EXIT_OK;
  }
  try {
    return await cmd.run(parsed, io);
  } catch (e) {
    if (e instanceof UsageError) return usageFailure(cmd.spec.name, e.message, io);
    throw e;
  }
}

export function usageFailure(name: string, message: string, io: CliIo): number {
  io.err(`sockstack ${name}: ${message}`);
  io.err(`Try 'sockstack ${name} --help' for more information.`);
  return EXIT_USAGE;
}

/** The standard answer of commands whose engine has not landed yet. */
export function notAvailable(name: string, what: string, io: CliIo): number {
  io.err(`sockstack ${name}: not available yet (${what})`);
  return EXIT_FAILURE;
}

/**
 * Opens `--pcap PATH` for a command (undefined path: no capture). On failure says why on
 * stderr and returns 'failed', so the command exits with EXIT_FAILURE.
 */
export async function openCaptureOption(
  pcapPath: string | undefined,
  command: string,
  io: CliIo,
): Promise<
  { file: { close(): void }; writer: import('../link/pcap.ts').PcapngWriter } | undefined | 'failed'
> {
  if (pcapPath === undefined) return undefined;
  const { openPcapngFile } = await import('../node/pcap-file.ts');
  try {
    return openPcapngFile(pcapPath, { application: `sockstack ${command}` });
  } catch (e) {
    io.err(`sockstack ${command}: cannot write ${pcapPath}: ${(e as Error).message}`);
    return 'failed';
  }
}
