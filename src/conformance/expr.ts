/**
 * A small evaluator for the Python subset used in packetdrill `%{ ... }%` blocks:
 * statements `assert expr[, msg]`, `print(...)` (ignored), `name = expr`, `pass`,
 * separated by newlines or `;`; expressions with `or/and/not`, chained comparisons,
 * `in`/`not in`, `is`/`is not`, `| ^ & << >>`, `+ - * / // % **`, unary `- + ~`,
 * parentheses, tuples in parentheses, ints/floats/strings/True/False/None, names,
 * and the calls `abs min max int float bool len str print`.
 *
 * No eval(): a tokenizer, a recursive-descent parser and a tree walker.
 */

export type PyValue = number | string | boolean | null | readonly PyValue[];

export class PyError extends Error {
  /** 1-based line within the code block. */
  readonly line: number;
  constructor(line: number, message: string) {
    super(message);
    this.name = 'PyError';
    this.line = line;
  }
}

export type CodeResult =
  | { readonly ok: true }
  | {
      readonly ok: false;
      readonly line: number;
      readonly message: string;
      readonly kind: 'assert' | 'error';
    };

// ---- tokens --------------------------------------------------------------

type PyTok =
  | { k: 'num'; v: number; line: number }
  | { k: 'str'; v: string; line: number }
  | { k: 'name'; v: string; line: number }
  | { k: 'op'; v: string; line: number }
  | { k: 'nl'; line: number }
  | { k: 'eof'; line: number };

const OPS = [
  '**',
  '//',
  '==',
  '!=',
  '<=',
  '>=',
  '<<',
  '>>',
  '<',
  '>',
  '+',
  '-',
  '*',
  '/',
  '%',
  '(',
  ')',
  ',',
  '&',
  '|',
  '^',
  '~',
  '=',
  ';',
  '[',
  ']',
];

function pyTokenize(src: string): PyTok[] {
  const out: PyTok[] = [];
  let i = 0;
  let line = 1;
  let depth = 0;
  while (i < src.length) {
    const c = src[i]!;
    if (c === '\n') {
      if (depth === 0) out.push({ k: 'nl', line });
      line++;
      i++;
      continue;
    }
    if (c === '\\' && src[i + 1] === '\n') {
      line++;
      i += 2;
      continue;
    }
    if (c === ' ' || c === '\t' || c === '\r') {
      i++;
      continue;
    }
    if (c === '#') {
      while (i < src.length && src[i] !== '\n') i++;
      continue;
    }
    const rest = src.slice(i, i + 40);
    const num = /^(0[xX][0-9a-fA-F]+|0[bB][01]+|0[oO][0-7]+|(\d+\.\d*|\.\d+|\d+)([eE][-+]?\d+)?)/.exec(rest);
    if (num && /[\d.]/.test(c)) {
      const t = num[0];
      const v = /^0[xX]/.test(t)
        ? Number.parseInt(t.slice(2), 16)
        : /^0[bB]/.test(t)
          ? Number.parseInt(t.slice(2), 2)
          : /^0[oO]/.test(t)
            ? Number.parseInt(t.slice(2), 8)
            : Number(t);
      out.push({ k: 'num', v, line });
      i += t.length;
      continue;
    }
    if (c === '"' || c === "'") {
      let j = i + 1;
      let s = '';
      while (j < src.length && src[j] !== c) {
        if (src[j] === '\n') throw new PyError(line, 'unterminated string');
        if (src[j] === '\\') {
          const e = src[j + 1] ?? '';
          s += e === 'n' ? '\n' : e === 't' ? '\t' : e;
          j += 2;
          continue;
        }
        s += src[j];
        j++;
      }
      if (j >= src.length) throw new PyError(line, 'unterminated string');
      out.push({ k: 'str', v: s, line });
      i = j + 1;
      continue;
    }
    if (/[A-Za-z_]/.test(c)) {
      const m = /^[A-Za-z_]\w*/.exec(src.slice(i))!;
      out.push({ k: 'name', v: m[0], line });
      i += m[0].length;
      continue;
    }
    const op = OPS.find((o) => src.startsWith(o, i));
    if (!op) throw new PyError(line, `unexpected character '${c}'`);
    if (op === '(' || op === '[') depth++;
    if (op === ')' || op === ']') depth = Math.max(0, depth - 1);
    out.push({ k: 'op', v: op, line });
    i += op.length;
  }
  out.push({ k: 'eof', line });
  return out;
}

// ---- syntax tree ---------------------------------------------------------

type Node =
  | { t: 'lit'; v: PyValue }
  | { t: 'name'; v: string; line: number }
  | { t: 'un'; op: string; a: Node }
  | { t: 'bin'; op: string; a: Node; b: Node; line: number }
  | { t: 'bool'; op: 'and' | 'or'; a: Node; b: Node }
  | { t: 'cmp'; first: Node; rest: { op: string; n: Node }[]; line: number }
  | { t: 'call'; f: string; args: Node[]; line: number }
  | { t: 'tuple'; items: Node[] };

type Stmt =
  | { t: 'assert'; test: Node; msg: Node | undefined; line: number; text: string }
  | { t: 'assign'; name: string; value: Node; line: number }
  | { t: 'expr'; value: Node; line: number }
  | { t: 'pass'; line: number };

class PyParser {
  private readonly toks: PyTok[];
  private readonly src: string;
  private i = 0;
  constructor(src: string) {
    this.src = src;
    this.toks = pyTokenize(src);
  }
  private peek(k = 0): PyTok {
    return this.toks[Math.min(this.i + k, this.toks.length - 1)]!;
  }
  private isOp(v: string): boolean {
    const t = this.peek();
    return t.k === 'op' && t.v === v;
  }
  private isName(v: string, k = 0): boolean {
    const t = this.peek(k);
    return t.k === 'name' && t.v === v;
  }
  private expectOp(v: string): void {
    if (!this.isOp(v)) throw new PyError(this.peek().line, `expected '${v}'`);
    this.i++;
  }

  program(): Stmt[] {
    const out: Stmt[] = [];
    for (;;) {
      while (this.peek().k === 'nl' || this.isOp(';')) this.i++;
      if (this.peek().k === 'eof') return out;
      out.push(this.statement());
      const t = this.peek();
      if (!(t.k === 'nl' || t.k === 'eof' || (t.k === 'op' && t.v === ';'))) {
        throw new PyError(t.line, 'unexpected token after the end of a statement');
      }
    }
  }

  private statement(): Stmt {
    const t = this.peek();
    const line = t.line;
    if (this.isName('assert')) {
      this.i++;
      const startLine = line;
      const test = this.expr();
      let msg: Node | undefined;
      if (this.isOp(',')) {
        this.i++;
        msg = this.expr();
      }
      const text = this.src.split('\n')[startLine - 1]?.trim() ?? 'assert';
      return { t: 'assert', test, msg, line, text };
    }
    if (this.isName('pass')) {
      this.i++;
      return { t: 'pass', line };
    }
    if (t.k === 'name' && this.peek(1).k === 'op' && (this.peek(1) as { v: string }).v === '=') {
      this.i += 2;
      return { t: 'assign', name: t.v, value: this.expr(), line };
    }
    if (t.k === 'name' && ['if', 'for', 'while', 'def', 'import', 'from', 'class', 'return'].includes(t.v)) {
      throw new PyError(line, `'${t.v}' statements are not supported in %{ }% blocks`);
    }
    return { t: 'expr', value: this.expr(), line };
  }

  expr(): Node {
    return this.or();
  }
  private or(): Node {
    let a = this.and();
    while (this.isName('or')) {
      this.i++;
      a = { t: 'bool', op: 'or', a, b: this.and() };
    }
    return a;
  }
  private and(): Node {
    let a = this.not();
    while (this.isName('and')) {
      this.i++;
      a = { t: 'bool', op: 'and', a, b: this.not() };
    }
    return a;
  }
  private not(): Node {
    if (this.isName('not')) {
      this.i++;
      return { t: 'un', op: 'not', a: this.not() };
    }
    return this.comparison();
  }
  private comparison(): Node {
    const line = this.peek().line;
    const first = this.bitor();
    const rest: { op: string; n: Node }[] = [];
    for (;;) {
      const t = this.peek();
      let op: string | undefined;
      if (t.k === 'op' && ['==', '!=', '<', '<=', '>', '>='].includes(t.v)) {
        op = t.v;
        this.i++;
      } else if (this.isName('in')) {
        op = 'in';
        this.i++;
      } else if (this.isName('not') && this.isName('in', 1)) {
        op = 'not in';
        this.i += 2;
      } else if (this.isName('is')) {
        this.i++;
        op = 'is';
        if (this.isName('not')) {
          this.i++;
          op = 'is not';
        }
      }
      if (!op) break;
      rest.push({ op, n: this.bitor() });
    }
    return rest.length ? { t: 'cmp', first, rest, line } : first;
  }
  private binLevel(ops: string[], sub: () => Node): Node {
    let a = sub();
    for (;;) {
      const t = this.peek();
      if (t.k === 'op' && ops.includes(t.v)) {
        this.i++;
        a = { t: 'bin', op: t.v, a, b: sub(), line: t.line };
      } else return a;
    }
  }
  private bitor = (): Node => this.binLevel(['|'], this.bitxor);
  private bitxor = (): Node => this.binLevel(['^'], this.bitand);
  private bitand = (): Node => this.binLevel(['&'], this.shift);
  private shift = (): Node => this.binLevel(['<<', '>>'], this.arith);
  private arith = (): Node => this.binLevel(['+', '-'], this.term);
  private term = (): Node => this.binLevel(['*', '/', '//', '%'], this.unary);
  private unary = (): Node => {
    const t = this.peek();
    if (t.k === 'op' && (t.v === '-' || t.v === '+' || t.v === '~')) {
      this.i++;
      return { t: 'un', op: t.v, a: this.unary() };
    }
    return this.power();
  };
  private power(): Node {
    const a = this.atom();
    if (this.isOp('**')) {
      const line = this.peek().line;
      this.i++;
      return { t: 'bin', op: '**', a, b: this.unary(), line };
    }
    return a;
  }
  private atom(): Node {
    const t = this.peek();
    this.i++;
    if (t.k === 'num') return { t: 'lit', v: t.v };
    if (t.k === 'str') {
      let s = t.v;
      while (this.peek().k === 'str') s += (this.toks[this.i++] as { v: string }).v;
      return { t: 'lit', v: s };
    }
    if (t.k === 'name') {
      if (t.v === 'True') return { t: 'lit', v: true };
      if (t.v === 'False') return { t: 'lit', v: false };
      if (t.v === 'None') return { t: 'lit', v: null };
      if (this.isOp('(')) {
        this.i++;
        const args: Node[] = [];
        while (!this.isOp(')')) {
          args.push(this.expr());
          if (!this.isOp(',')) break;
          this.i++;
        }
        this.expectOp(')');
        return { t: 'call', f: t.v, args, line: t.line };
      }
      return { t: 'name', v: t.v, line: t.line };
    }
    if (t.k === 'op' && (t.v === '(' || t.v === '[')) {
      const close = t.v === '(' ? ')' : ']';
      const items: Node[] = [];
      let trailingComma = false;
      while (!this.isOp(close)) {
        items.push(this.expr());
        trailingComma = false;
        if (!this.isOp(',')) break;
        this.i++;
        trailingComma = true;
      }
      this.expectOp(close);
      if (t.v === '(' && items.length === 1 && !trailingComma) return items[0]!;
      return { t: 'tuple', items };
    }
    throw new PyError(
      t.line,
      t.k === 'eof' || t.k === 'nl' ? 'unexpected end of expression' : 'unexpected token',
    );
  }
}

// ---- evaluation ----------------------------------------------------------

export function pyRepr(v: PyValue): string {
  if (v === null) return 'None';
  if (v === true) return 'True';
  if (v === false) return 'False';
  if (typeof v === 'string') return `'${v}'`;
  if (Array.isArray(v)) return `(${v.map(pyRepr).join(', ')})`;
  return String(v);
}

function truthy(v: PyValue): boolean {
  if (Array.isArray(v)) return v.length > 0;
  return v !== null && v !== false && v !== 0 && v !== '';
}

function num(v: PyValue, line: number, op: string): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'boolean') return v ? 1 : 0;
  throw new PyError(line, `unsupported operand ${pyRepr(v)} for '${op}'`);
}

function pyEq(a: PyValue, b: PyValue): boolean {
  if (Array.isArray(a) && Array.isArray(b)) {
    const bl = b as readonly PyValue[];
    return a.length === bl.length && a.every((x: PyValue, i: number) => pyEq(x, bl[i]!));
  }
  if (typeof a === 'boolean') a = a ? 1 : 0;
  if (typeof b === 'boolean') b = b ? 1 : 0;
  return a === b;
}

function compare(op: string, a: PyValue, b: PyValue, line: number): boolean {
  switch (op) {
    case '==':
      return pyEq(a, b);
    case '!=':
      return !pyEq(a, b);
    case 'is':
      return a === b;
    case 'is not':
      return a !== b;
    case 'in':
    case 'not in': {
      let r: boolean;
      if (typeof b === 'string' && typeof a === 'string') r = b.includes(a);
      else if (Array.isArray(b)) r = b.some((x) => pyEq(x, a));
      else throw new PyError(line, `argument of type ${pyRepr(b)} is not iterable`);
      return op === 'in' ? r : !r;
    }
  }
  if (typeof a === 'string' && typeof b === 'string') {
    return op === '<' ? a < b : op === '<=' ? a <= b : op === '>' ? a > b : a >= b;
  }
  const x = num(a, line, op);
  const y = num(b, line, op);
  return op === '<' ? x < y : op === '<=' ? x <= y : op === '>' ? x > y : x >= y;
}

function isInt(v: number): boolean {
  return Number.isInteger(v);
}

function evalNode(n: Node, vars: Map<string, PyValue>): PyValue {
  switch (n.t) {
    case 'lit':
      return n.v;
    case 'name': {
      if (!vars.has(n.v)) throw new PyError(n.line, `name '${n.v}' is not defined`);
      return vars.get(n.v)!;
    }
    case 'tuple':
      return n.items.map((x) => evalNode(x, vars));
    case 'un': {
      const a = evalNode(n.a, vars);
      if (n.op === 'not') return !truthy(a);
      const x = num(a, 0, n.op);
      return n.op === '-' ? -x : n.op === '+' ? x : ~x;
    }
    case 'bool': {
      const a = evalNode(n.a, vars);
      if (n.op === 'and') return truthy(a) ? evalNode(n.b, vars) : a;
      return truthy(a) ? a : evalNode(n.b, vars);
    }
    case 'cmp': {
      let left = evalNode(n.first, vars);
      for (const { op, n: rn } of n.rest) {
        const right = evalNode(rn, vars);
        if (!compare(op, left, right, n.line)) return false;
        left = right;
      }
      return true;
    }
    case 'bin': {
      const a = evalNode(n.a, vars);
      const b = evalNode(n.b, vars);
      if (n.op === '+' && typeof a === 'string' && typeof b === 'string') return a + b;
      if (n.op === '%' && typeof a === 'string') {
        const args = Array.isArray(b) ? b : [b];
        let k = 0;
        return a.replace(/%[sdir%]/g, (m) => (m === '%%' ? '%' : String(args[k++] ?? '')));
      }
      const x = num(a, n.line, n.op);
      const y = num(b, n.line, n.op);
      switch (n.op) {
        case '+':
          return x + y;
        case '-':
          return x - y;
        case '*':
          return x * y;
        case '/':
          if (y === 0) throw new PyError(n.line, 'division by zero');
          return x / y;
        case '//':
          if (y === 0) throw new PyError(n.line, 'integer division or modulo by zero');
          return Math.floor(x / y);
        case '%':
          if (y === 0) throw new PyError(n.line, 'integer division or modulo by zero');
          return x - y * Math.floor(x / y);
        case '**':
          return x ** y;
      }
      if (!isInt(x) || !isInt(y)) throw new PyError(n.line, `unsupported float operand for '${n.op}'`);
      const bx = BigInt(x);
      const by = BigInt(y);
      const r =
        n.op === '&'
          ? bx & by
          : n.op === '|'
            ? bx | by
            : n.op === '^'
              ? bx ^ by
              : n.op === '<<'
                ? bx << by
                : bx >> by;
      return Number(r);
    }
    case 'call': {
      const args = n.args.map((x) => evalNode(x, vars));
      switch (n.f) {
        case 'print':
          return null;
        case 'abs':
          return Math.abs(num(args[0] ?? null, n.line, 'abs'));
        case 'min':
        case 'max': {
          const list = args.length === 1 && Array.isArray(args[0]) ? (args[0] as PyValue[]) : args;
          const ns = list.map((v) => num(v, n.line, n.f));
          if (ns.length === 0) throw new PyError(n.line, `${n.f}() arg is an empty sequence`);
          return n.f === 'min' ? Math.min(...ns) : Math.max(...ns);
        }
        case 'int':
          return Math.trunc(typeof args[0] === 'string' ? Number(args[0]) : num(args[0] ?? 0, n.line, 'int'));
        case 'float':
          return typeof args[0] === 'string' ? Number(args[0]) : num(args[0] ?? 0, n.line, 'float');
        case 'bool':
          return truthy(args[0] ?? false);
        case 'str':
          return typeof args[0] === 'string' ? args[0] : pyRepr(args[0] ?? '');
        case 'len': {
          const v = args[0];
          if (typeof v === 'string' || Array.isArray(v)) return v.length;
          throw new PyError(n.line, `object of type ${pyRepr(v ?? null)} has no len()`);
        }
      }
      throw new PyError(n.line, `function '${n.f}' is not supported`);
    }
  }
}

/** Names a node reads, for explaining a failed assertion. */
function namesIn(n: Node, out: Set<string>): Set<string> {
  switch (n.t) {
    case 'name':
      out.add(n.v);
      break;
    case 'un':
      namesIn(n.a, out);
      break;
    case 'bin':
    case 'bool':
      namesIn(n.a, out);
      namesIn(n.b, out);
      break;
    case 'cmp':
      namesIn(n.first, out);
      for (const r of n.rest) namesIn(r.n, out);
      break;
    case 'call':
      for (const a of n.args) namesIn(a, out);
      break;
    case 'tuple':
      for (const a of n.items) namesIn(a, out);
      break;
  }
  return out;
}

/** Parses a block without running it; throws PyError on a syntax error. */
export function checkCode(code: string): void {
  new PyParser(code).program();
}

/**
 * Runs a `%{ }%` block against `vars` (which it may extend, as in packetdrill
 * where variables persist across blocks). Never throws.
 */
export function runCode(code: string, vars: Map<string, PyValue>): CodeResult {
  let stmts: Stmt[];
  try {
    stmts = new PyParser(code).program();
  } catch (e) {
    if (e instanceof PyError)
      return { ok: false, line: e.line, message: `syntax error: ${e.message}`, kind: 'error' };
    throw e;
  }
  for (const s of stmts) {
    try {
      if (s.t === 'assert') {
        if (!truthy(evalNode(s.test, vars))) {
          const shown = [...namesIn(s.test, new Set())]
            .filter((k) => vars.has(k) && !/^[A-Z_0-9]+$/.test(k))
            .map((k) => `${k}=${pyRepr(vars.get(k)!)}`);
          let message = `AssertionError: ${s.text}`;
          if (s.msg) message += ` -> ${pyRepr(evalNode(s.msg, vars))}`;
          if (shown.length) message += ` (${shown.join(', ')})`;
          return { ok: false, line: s.line, message, kind: 'assert' };
        }
      } else if (s.t === 'assign') {
        vars.set(s.name, evalNode(s.value, vars));
      } else if (s.t === 'expr') {
        evalNode(s.value, vars);
      }
    } catch (e) {
      if (e instanceof PyError)
        return { ok: false, line: e.line || s.line, message: e.message, kind: 'error' };
      throw e;
    }
  }
  return { ok: true };
}

/** Evaluates one expression (for tests and the CLI). Throws PyError. */
export function evalExpression(src: string, vars: ReadonlyMap<string, PyValue>): PyValue {
  const p = new PyParser(src);
  const stmts = p.program();
  if (stmts.length !== 1 || stmts[0]!.t !== 'expr') throw new PyError(1, 'expected a single expression');
  return evalNode((stmts[0] as { value: Node }).value, new Map(vars));
}
