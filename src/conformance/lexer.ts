/**
 * Tokenizer for packetdrill scripts (google packetdrill lexer.l, plus nplab's
 * `#ifdef NAME` / `#ifndef` / `#else` / `#endif`, evaluated here against the
 * `-D` defines so the parser never sees inactive lines).
 *
 * Tokens carry 1-based line:column and source offsets, so the parser can slice
 * raw text (the free-form note after a syscall's errno).
 */
import type { Pos } from './ast.ts';

export type TokenKind =
  | 'int' // 123, -1
  | 'hex' // 0x20
  | 'float' // 0.100, .1, 1.
  | 'ipv4' // 192.0.2.1
  | 'word' // identifiers: S, ack, SOL_SOCKET, sackOK
  | 'string' // "..."
  | 'option' // --name[=value]
  | 'backtick' // `...`
  | 'code' // %{ ... }%
  | 'ellipsis' // ...
  | 'punct' // one character: < > ( ) [ ] { } , : = | + * ~ . - ! / ;
  | 'eof';

export interface Token {
  readonly kind: TokenKind;
  /** Source text (for string/backtick/code: the unquoted contents). */
  readonly text: string;
  /** Numeric value for int/hex/float (seconds for floats as written). */
  readonly value: number;
  readonly pos: Pos;
  readonly start: number;
  readonly end: number;
  /** True when this is the first token on its line. */
  readonly lineStart: boolean;
}

export class ScriptSyntaxError extends Error {
  readonly pos: Pos;
  readonly detail: string;
  constructor(pos: Pos, detail: string) {
    super(`${pos.line}:${pos.col}: ${detail}`);
    this.name = 'ScriptSyntaxError';
    this.pos = pos;
    this.detail = detail;
  }
}

const PUNCT = '<>()[]{},:=|+*~.-!/;';

function isDigit(c: string): boolean {
  return c >= '0' && c <= '9';
}
function isWordStart(c: string): boolean {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c === '_';
}
function isWordChar(c: string): boolean {
  return isWordStart(c) || isDigit(c);
}

export interface LexOptions {
  /** Symbols defined with `-D NAME[=value]`, for `#ifdef`. */
  readonly defines?: ReadonlyMap<string, string> | Readonly<Record<string, string>>;
}

function isDefined(defines: LexOptions['defines'], name: string): boolean {
  if (!defines) return false;
  if (defines instanceof Map) return defines.has(name);
  return Object.hasOwn(defines, name);
}

/** Splits `src` into tokens, ending with one `eof` token. Throws ScriptSyntaxError. */
export function tokenize(src: string, opts: LexOptions = {}): Token[] {
  const out: Token[] = [];
  let i = 0;
  let line = 1;
  let lineOffset = 0; // offset of the first char of the current line
  let lastTokenLine = 0;
  // #ifdef stack: each entry says whether the branch is active and whether it was taken.
  const cond: { active: boolean; parentActive: boolean; pos: Pos }[] = [];
  const active = (): boolean => cond.length === 0 || cond[cond.length - 1]!.active;

  const posAt = (offset: number): Pos => ({ line, col: offset - lineOffset + 1 });
  const advanceTo = (to: number): void => {
    for (; i < to; i++) {
      if (src[i] === '\n') {
        line++;
        lineOffset = i + 1;
      }
    }
  };
  const push = (kind: TokenKind, text: string, value: number, start: number, pos: Pos): void => {
    if (!active()) return;
    out.push({ kind, text, value, pos, start, end: i, lineStart: pos.line !== lastTokenLine });
    lastTokenLine = line;
  };

  while (i < src.length) {
    const c = src[i]!;
    if (c === '\n' || c === ' ' || c === '\t' || c === '\r' || c === '\f' || c === '\v') {
      advanceTo(i + 1);
      continue;
    }
    const start = i;
    const pos = posAt(i);
    // Comments.
    if (c === '/' && src[i + 1] === '/') {
      while (i < src.length && src[i] !== '\n') i++;
      continue;
    }
    if (c === '/' && src[i + 1] === '*') {
      const close = src.indexOf('*/', i + 2);
      if (close < 0) throw new ScriptSyntaxError(pos, 'unterminated /* comment');
      advanceTo(close + 2);
      continue;
    }
    // Preprocessor lines (nplab dialect): only at the start of a line.
    if (c === '#' && src.slice(lineOffset, i).trim() === '') {
      let e = src.indexOf('\n', i);
      if (e < 0) e = src.length;
      const text = src.slice(i, e).trim();
      const m = /^#\s*(\w+)\s*(\w*)/.exec(text);
      const directive = m?.[1] ?? '';
      const name = m?.[2] ?? '';
      if (directive === 'ifdef' || directive === 'ifndef') {
        if (!name) throw new ScriptSyntaxError(pos, `#${directive} needs a symbol`);
        const parentActive = active();
        const def = isDefined(opts.defines, name);
        cond.push({ active: parentActive && (directive === 'ifdef' ? def : !def), parentActive, pos });
      } else if (directive === 'else') {
        const top = cond[cond.length - 1];
        if (!top) throw new ScriptSyntaxError(pos, '#else without #ifdef');
        top.active = top.parentActive && !top.active;
      } else if (directive === 'endif') {
        if (!cond.pop()) throw new ScriptSyntaxError(pos, '#endif without #ifdef');
      } else {
        throw new ScriptSyntaxError(pos, `unknown preprocessor directive '${text}'`);
      }
      i = e;
      continue;
    }
    // Inline Python: %{ ... }%
    if (c === '%' && src[i + 1] === '{') {
      const close = src.indexOf('}%', i + 2);
      if (close < 0) throw new ScriptSyntaxError(pos, 'unterminated %{ code block (missing }%)');
      const text = src.slice(i + 2, close);
      advanceTo(close + 2);
      push('code', text, 0, start, pos);
      continue;
    }
    if (c === '`') {
      const close = src.indexOf('`', i + 1);
      if (close < 0) throw new ScriptSyntaxError(pos, 'unterminated backtick command');
      const text = src.slice(i + 1, close);
      advanceTo(close + 1);
      push('backtick', text, 0, start, pos);
      continue;
    }
    if (c === '"') {
      let j = i + 1;
      let text = '';
      while (j < src.length && src[j] !== '"') {
        if (src[j] === '\n') throw new ScriptSyntaxError(pos, 'unterminated string');
        if (src[j] === '\\' && j + 1 < src.length) {
          const e = src[j + 1]!;
          text += e === 'n' ? '\n' : e === 't' ? '\t' : e === 'r' ? '\r' : e === '0' ? '\0' : e;
          j += 2;
          continue;
        }
        text += src[j];
        j++;
      }
      if (j >= src.length) throw new ScriptSyntaxError(pos, 'unterminated string');
      i = j + 1;
      push('string', text, 0, start, pos);
      continue;
    }
    // --option[=value] (value runs to the end of the whitespace-free word).
    if (c === '-' && src[i + 1] === '-' && isWordStart(src[i + 2] ?? '')) {
      let j = i + 2;
      while (j < src.length && /[\w-]/.test(src[j]!)) j++;
      let text = src.slice(i + 2, j);
      if (src[j] === '=') {
        let k = j + 1;
        while (k < src.length && !/\s/.test(src[k]!)) k++;
        text = `${text}=${src.slice(j + 1, k)}`;
        j = k;
      }
      i = j;
      push('option', text, 0, start, pos);
      continue;
    }
    if (c === '.' && src[i + 1] === '.' && src[i + 2] === '.') {
      i += 3;
      push('ellipsis', '...', 0, start, pos);
      continue;
    }
    // Numbers: ints, hex, floats, dotted IPv4 addresses, negative ints.
    const numStart = c === '-' && isDigit(src[i + 1] ?? '') ? i + 1 : i;
    if (isDigit(src[numStart] ?? '') || (c === '.' && isDigit(src[i + 1] ?? ''))) {
      const rest = src.slice(i, i + 64);
      const ip = /^\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}(?![\d.])/.exec(rest);
      if (ip && c !== '-') {
        i += ip[0].length;
        push('ipv4', ip[0], 0, start, pos);
        continue;
      }
      const hex = /^-?0[xX][0-9a-fA-F]+/.exec(rest);
      if (hex) {
        i += hex[0].length;
        push('hex', hex[0], Number.parseInt(hex[0].replace(/^(-?)0[xX]/, '$10x'), 16), start, pos);
        continue;
      }
      // A '.' is part of the number unless it starts '...'.
      const num = /^-?(\d+(\.(?!\.\.)\d*)?|\.\d+)/.exec(rest)!;
      i += num[0].length;
      const isFloat = num[0].includes('.');
      push(isFloat ? 'float' : 'int', num[0], Number(num[0]), start, pos);
      continue;
    }
    if (isWordStart(c)) {
      let j = i + 1;
      while (j < src.length && isWordChar(src[j]!)) j++;
      i = j;
      push('word', src.slice(start, j), 0, start, pos);
      continue;
    }
    if (PUNCT.includes(c)) {
      i++;
      push('punct', c, 0, start, pos);
      continue;
    }
    // Anything else becomes a one-character punct token; the parser reports it in
    // context (it is legal inside a syscall's free-text note).
    i++;
    push('punct', c, 0, start, pos);
  }
  if (cond.length > 0) {
    const top = cond[cond.length - 1]!;
    throw new ScriptSyntaxError(top.pos, 'unterminated #ifdef (missing #endif)');
  }
  out.push({
    kind: 'eof',
    text: '',
    value: 0,
    pos: posAt(i),
    start: i,
    end: i,
    lineStart: true,
  });
  return out;
}
