/** Parsing helpers shared by the runner and the CLI. */
import type { Pos, Script } from './ast.ts';
import { parseScript, ScriptSyntaxError } from './parser.ts';

/** A bad `--option=value` at the top of a script. */
export class ParseOptionsError extends Error {
  readonly pos: Pos;
  constructor(pos: Pos, message: string) {
    super(message);
    this.name = 'ParseOptionsError';
    this.pos = pos;
  }
}

export type ParseOutcome =
  | { readonly ok: true; readonly script: Script }
  | { readonly ok: false; readonly pos: Pos; readonly message: string };

/** Parses without throwing on syntax errors. */
export function parseScriptSafe(source: string, defines: Readonly<Record<string, string>>): ParseOutcome {
  try {
    return { ok: true, script: parseScript(source, { defines }) };
  } catch (e) {
    if (e instanceof ScriptSyntaxError) return { ok: false, pos: e.pos, message: e.detail };
    throw e;
  }
}
