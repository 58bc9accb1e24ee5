/**
 * Parser for packetdrill scripts: `script := option* [init_command] event+ [cleanup_command]`
 * (google packetdrill parser.y, syntax.md), with the nplab additions (`< [seq] icmp ...`,
 * `...(N)` wildcard sequence, `a:b(n)!` absolute sequence) and FreeBSD's
 * `/udp(sport > dport)` UDP-encapsulation suffix.
 *
 * Every event must start on its own line, and nothing may follow it on that line:
 * this is stricter than packetdrill (whose grammar ignores newlines) and turns
 * many typos into precise errors.
 */
import type {
  CodeEvent,
  CommandEvent,
  Expr,
  IcmpEchoed,
  IcmpPacketSpec,
  IpInfo,
  OuterIp,
  PacketEvent,
  PacketSpec,
  Pos,
  Script,
  ScriptEvent,
  ScriptOption,
  SeqSpec,
  SyscallEvent,
  TcpOptionSpec,
  TcpPacketSpec,
  TimeSpec,
  UdpPacketSpec,
} from './ast.ts';
import { type LexOptions, ScriptSyntaxError, type Token, tokenize } from './lexer.ts';

export { ScriptSyntaxError } from './lexer.ts';

export interface ParseOptions extends LexOptions {}

/** Parses a whole script. Throws ScriptSyntaxError with line:column. */
export function parseScript(src: string, opts: ParseOptions = {}): Script {
  return new Parser(tokenize(src, opts)).script();
}

const TCP_FLAG_LETTERS = /^[SFRPUEWA]+$/;
const ECN_WORDS: Record<string, 0 | 1 | 2 | 3 | 'ect01'> = {
  no_ecn: 0,
  noecn: 0,
  ect1: 1,
  ect0: 2,
  ce: 3,
  ect01: 'ect01',
};

/** Seconds (as written) to integer microseconds. */
function usecs(seconds: number): number {
  return Math.round(seconds * 1_000_000);
}

class Parser {
  private readonly toks: Token[];
  private i = 0;

  constructor(toks: Token[]) {
    this.toks = toks;
  }

  private peek(k = 0): Token {
    return this.toks[Math.min(this.i + k, this.toks.length - 1)]!;
  }
  private next(): Token {
    const t = this.peek();
    if (t.kind !== 'eof') this.i++;
    return t;
  }
  private isPunct(ch: string, k = 0): boolean {
    const t = this.peek(k);
    return t.kind === 'punct' && t.text === ch;
  }
  private isWord(w: string, k = 0): boolean {
    const t = this.peek(k);
    return t.kind === 'word' && t.text === w;
  }
  private fail(t: Token, msg: string): never {
    throw new ScriptSyntaxError(t.pos, msg);
  }
  private describe(t: Token): string {
    if (t.kind === 'eof') return 'end of file';
    if (t.kind === 'backtick') return 'a backtick command';
    if (t.kind === 'code') return 'a %{ }% block';
    return `'${t.text}'`;
  }
  private expectPunct(ch: string, what?: string): Token {
    const t = this.peek();
    if (t.kind !== 'punct' || t.text !== ch) {
      this.fail(t, `expected '${ch}'${what ? ` ${what}` : ''} but found ${this.describe(t)}`);
    }
    return this.next();
  }
  private expectWord(w: string): Token {
    const t = this.peek();
    if (!this.isWord(w)) this.fail(t, `expected '${w}' but found ${this.describe(t)}`);
    return this.next();
  }
  private integer(what: string): number {
    const t = this.peek();
    if (t.kind === 'int' || t.kind === 'hex') {
      this.next();
      return t.value;
    }
    return this.fail(t, `expected an integer ${what} but found ${this.describe(t)}`);
  }
  private sameLine(a: Token, b: Token): boolean {
    return a.pos.line === b.pos.line && !b.lineStart;
  }

  script(): Script {
    const options: ScriptOption[] = [];
    while (this.peek().kind === 'option') {
      const t = this.next();
      const eq = t.text.indexOf('=');
      options.push({
        name: eq < 0 ? t.text : t.text.slice(0, eq),
        value: eq < 0 ? undefined : t.text.slice(eq + 1),
        pos: t.pos,
      });
    }
    let initCommand: Script['initCommand'];
    if (this.peek().kind === 'backtick') {
      const t = this.next();
      initCommand = { command: t.text, pos: t.pos };
    }
    const events: ScriptEvent[] = [];
    let cleanupCommand: Script['cleanupCommand'];
    for (;;) {
      const t = this.peek();
      if (t.kind === 'eof') break;
      if (t.kind === 'backtick') {
        this.next();
        if (this.peek().kind !== 'eof') {
          this.fail(
            t,
            'a backtick command without a time is only allowed before the first event or after the last',
          );
        }
        cleanupCommand = { command: t.text, pos: t.pos };
        break;
      }
      if (t.kind === 'option') this.fail(t, `option --${t.text} must come before the first event`);
      events.push(this.event());
    }
    if (events.length === 0) this.fail(this.peek(), 'script has no events');
    const first = events[0]!;
    if (first.time.kind === 'absolute' && first.time.usecs !== 0) {
      throw new ScriptSyntaxError(first.pos, 'the first event must be at time 0');
    }
    return { options, initCommand, events, cleanupCommand };
  }

  private time(): TimeSpec {
    const t = this.peek();
    if (this.isPunct('*')) {
      this.next();
      return { kind: 'any' };
    }
    let relative = false;
    if (this.isPunct('+')) {
      this.next();
      relative = true;
    }
    const start = this.seconds();
    if (this.isPunct('~')) {
      this.next();
      let rel2 = false;
      if (this.isPunct('+')) {
        this.next();
        rel2 = true;
      }
      if (rel2 !== relative)
        this.fail(t, "both ends of a time range must be relative ('+a~+b') or absolute ('a~b')");
      const end = this.seconds();
      if (end < start) this.fail(t, 'time range ends before it starts');
      return { kind: 'range', relative, start, end };
    }
    return relative ? { kind: 'relative', usecs: start } : { kind: 'absolute', usecs: start };
  }

  private seconds(): number {
    const t = this.peek();
    if ((t.kind === 'int' || t.kind === 'float') && !t.text.startsWith('-')) {
      this.next();
      return usecs(t.value);
    }
    return this.fail(t, `expected a time but found ${this.describe(t)}`);
  }

  private event(): ScriptEvent {
    const first = this.peek();
    if (!first.lineStart)
      this.fail(first, `unexpected ${this.describe(first)} after the end of the previous event`);
    const time = this.time();
    const pos = first.pos;
    const t = this.peek();
    let ev: ScriptEvent;
    if (t.kind === 'punct' && (t.text === '<' || t.text === '>')) {
      ev = this.packetEvent(pos, time);
    } else if (t.kind === 'backtick') {
      this.next();
      ev = { kind: 'command', pos, time, command: t.text } satisfies CommandEvent;
    } else if (t.kind === 'code') {
      this.next();
      ev = { kind: 'code', pos, time, code: t.text, codePos: t.pos } satisfies CodeEvent;
    } else if (t.kind === 'ellipsis' || t.kind === 'word') {
      ev = this.syscallEvent(pos, time);
    } else {
      this.fail(t, `expected a packet, system call, command or %{ }% block but found ${this.describe(t)}`);
    }
    if (time.kind === 'any' || time.kind === 'range') {
      if (ev.kind !== 'packet' || ev.direction !== 'outbound') {
        throw new ScriptSyntaxError(pos, "'*' and time ranges are allowed only for outbound packets");
      }
    }
    const after = this.peek();
    if (after.kind !== 'eof' && !after.lineStart) {
      this.fail(after, `unexpected ${this.describe(after)} at the end of the event`);
    }
    return ev;
  }

  // ---- packets ----------------------------------------------------------

  private packetEvent(pos: Pos, time: TimeSpec): PacketEvent {
    const dir = this.next();
    const direction = dir.text === '<' ? 'inbound' : 'outbound';
    const outer: OuterIp[] = [];
    let ip: IpInfo | undefined;
    let nplabEchoed: IcmpEchoed | undefined;
    for (;;) {
      if (this.isWord('ipv4') || this.isWord('ipv6')) {
        const v = this.next().text === 'ipv4' ? 4 : 6;
        const oip = this.optIpInfo();
        const src = this.address();
        this.expectPunct('>', 'between outer addresses');
        const dst = this.address();
        this.expectPunct(':', 'after the outer IP header');
        outer.push({ version: v, src, dst, ip: oip });
        continue;
      }
      if (this.isWord('gre') || this.isWord('mpls')) {
        this.fail(
          this.peek(),
          `${this.peek().text.toUpperCase()} encapsulation is not supported by this parser`,
        );
      }
      break;
    }
    if (this.isPunct('[') && (this.peek(1).kind === 'int' || this.peek(1).kind === 'ellipsis')) {
      // nplab: `< [1:1461(1460)] icmp ...` quotes the packet before the ICMP keyword.
      this.next();
      nplabEchoed = { kind: 'tcp', seq: this.seq() };
      this.expectPunct(']');
      if (!this.isWord('icmp')) this.fail(this.peek(), "expected 'icmp' after a bracketed quoted packet");
    } else if (this.isPunct('[') && this.peek(1).kind === 'word') {
      ip = this.ecnBrackets();
    } else {
      ip = this.optIpInfo();
    }
    let packet: PacketSpec;
    if (this.isWord('udp')) packet = this.udp();
    else if (this.isWord('icmp')) packet = this.icmp(nplabEchoed);
    else packet = this.tcp();
    return { kind: 'packet', pos, time, direction, outer, ip, packet };
  }

  private address(): string {
    const t = this.peek();
    if (t.kind === 'ipv4') {
      this.next();
      return t.text;
    }
    // IPv6 addresses lex as a mix of words, ints and ':'; accept them raw.
    if (t.kind === 'word' || t.kind === 'int' || t.kind === 'hex') {
      let text = '';
      let last = t;
      while (
        (this.peek().kind === 'word' || this.peek().kind === 'int' || this.isPunct(':')) &&
        (text === '' || this.peek().start === last.end)
      ) {
        last = this.next();
        text += last.text;
      }
      return text;
    }
    return this.fail(t, `expected an IP address but found ${this.describe(t)}`);
  }

  /** Linux packetdrill's ECN field in packet lines: `[noecn]`, `[ect0]`, `[ect1]`, `[ce]`, `[ect01]`. */
  private ecnBrackets(): IpInfo {
    this.next();
    const t = this.next();
    const w = t.text.toLowerCase();
    if (!(w in ECN_WORDS))
      this.fail(t, `expected noecn, ect0, ect1, ect01 or ce but found ${this.describe(t)}`);
    this.expectPunct(']', 'after the ECN codepoint');
    return { ecn: ECN_WORDS[w] };
  }

  private optIpInfo(): IpInfo | undefined {
    if (!this.isPunct('(')) return undefined;
    const open = this.next();
    const info: { tos?: number; ecn?: IpInfo['ecn']; ttl?: number; flowLabel?: number } = {};
    for (;;) {
      const t = this.next();
      if (t.kind !== 'word')
        this.fail(t, `expected tos, ttl, flowlabel or an ECN codepoint but found ${this.describe(t)}`);
      const w = t.text.toLowerCase();
      if (w === 'tos') info.tos = this.integer('after tos');
      else if (w === 'ttl') info.ttl = this.integer('after ttl');
      else if (w === 'flowlabel') info.flowLabel = this.integer('after flowlabel');
      else if (w in ECN_WORDS) info.ecn = ECN_WORDS[w];
      else this.fail(t, `unknown IP qualifier '${t.text}'`);
      if (this.isPunct(',')) {
        this.next();
        continue;
      }
      break;
    }
    if (!this.isPunct(')'))
      this.fail(
        this.peek(),
        `expected ')' to close the IP qualifiers opened at ${open.pos.line}:${open.pos.col}`,
      );
    this.next();
    return info;
  }

  private ports(): { src: number; dst: number } | undefined {
    if (this.peek().kind === 'int' && this.isPunct('>', 1)) {
      const src = this.integer('port');
      this.next();
      const dst = this.integer('destination port');
      return { src, dst };
    }
    return undefined;
  }

  private udp(): UdpPacketSpec {
    this.next();
    const ports = this.ports();
    this.expectPunct('(', 'before the UDP payload length');
    const len = this.integer('UDP payload length');
    this.expectPunct(')');
    return { proto: 'udp', ports, len };
  }

  private icmp(nplabEchoed: IcmpEchoed | undefined): IcmpPacketSpec {
    this.next();
    const typeTok = this.next();
    if (typeTok.kind !== 'word')
      this.fail(typeTok, `expected an ICMP type name but found ${this.describe(typeTok)}`);
    let code: string | undefined;
    if (
      this.peek().kind === 'word' &&
      !this.isWord('mtu') &&
      !this.isWord('id') &&
      this.sameLine(typeTok, this.peek())
    ) {
      code = this.next().text;
    }
    let mtu: number | undefined;
    let id: number | undefined;
    if (this.isWord('mtu')) {
      this.next();
      mtu = this.integer('after mtu');
    }
    if (this.isWord('id')) {
      this.next();
      id = this.integer('after id');
    }
    let echoed = nplabEchoed;
    if (this.isPunct('[')) {
      const open = this.next();
      if (echoed) this.fail(open, 'the quoted packet is given twice');
      if (this.isWord('udp')) {
        this.next();
        this.expectPunct('(');
        echoed = { kind: 'udp', len: this.integer('quoted UDP length') };
        this.expectPunct(')');
      } else if (this.isWord('raw')) {
        this.next();
        this.expectPunct('(');
        echoed = { kind: 'raw', len: this.integer('quoted raw length') };
        this.expectPunct(')');
      } else {
        echoed = { kind: 'tcp', seq: this.seq() };
      }
      this.expectPunct(']', 'to close the quoted packet');
    }
    return { proto: 'icmp', type: typeTok.text, code, mtu, id, echoed };
  }

  private seq(): SeqSpec {
    const t = this.peek();
    if (t.kind === 'ellipsis') {
      // nplab: `...(N)` matches any sequence number.
      this.next();
      this.expectPunct('(', "after '...' in a sequence wildcard");
      const len = this.integer('segment length');
      this.expectPunct(')');
      return { start: 0, end: len, len, absolute: false, wildcard: true };
    }
    if (t.kind !== 'int' || t.text.startsWith('-')) {
      this.fail(t, `expected a sequence range 'start:end(len)' but found ${this.describe(t)}`);
    }
    const start = this.integer('sequence start');
    this.expectPunct(':', "in 'start:end(len)'");
    const end = this.integer('sequence end');
    this.expectPunct('(', "in 'start:end(len)'");
    const len = this.integer('segment length');
    this.expectPunct(')', "in 'start:end(len)'");
    if (start > 0xffffffff || end > 0xffffffff) this.fail(t, 'sequence number out of 32-bit range');
    if ((start + len) >>> 0 !== end >>> 0) {
      this.fail(t, `inconsistent sequence range ${start}:${end}(${len}): end must equal start + len`);
    }
    let absolute = false;
    if (this.isPunct('!')) {
      this.next();
      absolute = true;
    }
    return { start, end, len, absolute, wildcard: false };
  }

  private tcp(): TcpPacketSpec {
    const ports = this.ports();
    const ft = this.peek();
    let flags = '';
    let ackFlag = false;
    if (ft.kind === 'word' && TCP_FLAG_LETTERS.test(ft.text)) {
      this.next();
      flags = ft.text;
      if (this.isPunct('.') && this.peek().start === ft.end) {
        this.next();
        ackFlag = true;
      }
    } else if (ft.kind === 'punct' && ft.text === '.') {
      this.next();
      ackFlag = true;
    } else if (ft.kind === 'punct' && ft.text === '-') {
      this.next();
    } else if (ft.kind === 'word') {
      this.fail(ft, `unknown TCP flags '${ft.text}' (letters S F R P U E W A, '.' for ACK, '-' for none)`);
    } else {
      this.fail(ft, `expected TCP flags, 'udp' or 'icmp' but found ${this.describe(ft)}`);
    }
    if (new Set(flags).size !== flags.length) this.fail(ft, `repeated TCP flag in '${flags}'`);
    const seq = this.seq();
    let ack: number | undefined;
    let win: number | undefined;
    let urg: number | undefined;
    if (this.isWord('ack')) {
      this.next();
      ack = this.integer('after ack');
    }
    if (this.isWord('win')) {
      this.next();
      win = this.integer('after win');
    }
    if (this.isWord('urg')) {
      this.next();
      urg = this.integer('after urg');
    }
    let options: TcpOptionSpec[] | 'any' | undefined;
    if (this.isPunct('<')) {
      const open = this.next();
      if (this.peek().kind === 'ellipsis') {
        this.next();
        options = 'any';
      } else {
        options = [];
        if (!this.isPunct('>')) {
          for (;;) {
            options.push(this.tcpOption());
            if (this.isPunct(',')) {
              this.next();
              continue;
            }
            break;
          }
        }
      }
      if (!this.isPunct('>')) {
        this.fail(
          this.peek(),
          `expected ',' or '>' in the TCP options opened at ${open.pos.line}:${open.pos.col} but found ${this.describe(this.peek())}`,
        );
      }
      this.next();
    }
    let udpEncap: { src: number; dst: number } | undefined;
    if (this.isPunct('/')) {
      this.next();
      this.expectWord('udp');
      this.expectPunct('(');
      const p = this.ports();
      if (!p) this.fail(this.peek(), "expected 'sport > dport' in the UDP encapsulation");
      this.expectPunct(')');
      udpEncap = p;
    }
    return { proto: 'tcp', flags, ackFlag, ports, seq, ack, win, urg, options, udpEncap };
  }

  private tcpOption(): TcpOptionSpec {
    const t = this.next();
    if (t.kind !== 'word') this.fail(t, `expected a TCP option but found ${this.describe(t)}`);
    switch (t.text) {
      case 'nop':
        return { kind: 'nop' };
      case 'eol':
        return { kind: 'eol' };
      case 'mss':
        return { kind: 'mss', value: this.integer('after mss') };
      case 'wscale':
        return { kind: 'wscale', value: this.integer('after wscale') };
      case 'sackOK':
        return { kind: 'sackOK' };
      case 'sack': {
        const blocks: { left: number; right: number }[] = [];
        while (this.peek().kind === 'int') {
          const left = this.integer('SACK left edge');
          this.expectPunct(':', 'in a SACK block');
          const right = this.integer('SACK right edge');
          blocks.push({ left, right });
        }
        if (blocks.length === 0) this.fail(this.peek(), "expected SACK blocks 'left:right' after sack");
        return { kind: 'sack', blocks };
      }
      case 'TS': {
        this.expectWord('val');
        const val = this.integer('after TS val');
        this.expectWord('ecr');
        const ecr = this.integer('after ecr');
        return { kind: 'ts', val, ecr };
      }
      case 'md5':
        return { kind: 'md5', hex: this.hexBlob(true) };
      case 'FO':
      case 'FOEXP':
        return { kind: 'fo', experimental: t.text === 'FOEXP', cookie: this.hexBlob(false) };
      case 'ECN': {
        const vals: Record<string, number> = {};
        for (const name of ['e0b', 'ceb', 'e1b']) {
          this.expectWord(name);
          vals[name] = this.integer(`after ${name}`);
        }
        return { kind: 'accecn', e0b: vals.e0b!, ceb: vals.ceb!, e1b: vals.e1b! };
      }
      default:
        return this.fail(t, `unknown TCP option '${t.text}'`);
    }
  }

  private hexBlob(required: boolean): string {
    const t = this.peek();
    if (t.kind === 'word' || t.kind === 'int' || t.kind === 'hex') {
      // `0011aabb` lexes as an int followed by a word: join adjacent pieces.
      let text = t.text.replace(/^0[xX]/, '');
      let last = this.next();
      while ((this.peek().kind === 'word' || this.peek().kind === 'int') && this.peek().start === last.end) {
        last = this.next();
        text += last.text;
      }
      if (!/^[0-9a-fA-F]*$/.test(text)) this.fail(t, `expected hex bytes but found '${text}'`);
      return text;
    }
    if (required) this.fail(t, `expected hex bytes but found ${this.describe(t)}`);
    return '';
  }

  // ---- system calls -----------------------------------------------------

  private syscallEvent(pos: Pos, time: TimeSpec): SyscallEvent {
    let end: TimeSpec | undefined;
    if (this.peek().kind === 'ellipsis') {
      if (time.kind !== 'absolute' && time.kind !== 'relative') {
        this.fail(this.peek(), 'a blocking call needs a plain start time');
      }
      this.next();
      const e = this.seconds();
      end = time.kind === 'relative' ? { kind: 'relative', usecs: e } : { kind: 'absolute', usecs: e };
    }
    const nameTok = this.next();
    if (nameTok.kind !== 'word')
      this.fail(nameTok, `expected a system call name but found ${this.describe(nameTok)}`);
    if (!this.isPunct('(')) {
      this.fail(this.peek(), `expected '(' after '${nameTok.text}' (packet lines start with '<' or '>')`);
    }
    this.next();
    const args: Expr[] = [];
    if (!this.isPunct(')')) {
      for (;;) {
        args.push(this.expr());
        if (this.isPunct(',')) {
          this.next();
          continue;
        }
        break;
      }
    }
    this.expectPunct(')', `to close the arguments of ${nameTok.text}()`);
    this.expectPunct('=', `before the expected result of ${nameTok.text}()`);
    // The errno and its note follow the result on its line (which is the name's unless the
    // arguments span lines, as a long msghdr does).
    const resTok = this.peek();
    const result = this.expr();
    let errno: string | undefined;
    let note: string | undefined;
    if (this.peek().kind === 'word' && this.sameLine(resTok, this.peek())) {
      errno = this.next().text;
    }
    if (this.isPunct('(') && this.sameLine(resTok, this.peek())) {
      const open = this.next();
      let depth = 1;
      let last = open;
      for (;;) {
        const t = this.peek();
        if (t.kind === 'eof' || t.pos.line !== open.pos.line) {
          this.fail(open, "unterminated '(' note after the result");
        }
        this.next();
        if (t.kind === 'punct' && t.text === '(') depth++;
        if (t.kind === 'punct' && t.text === ')' && --depth === 0) {
          last = t;
          break;
        }
      }
      note = this.src(open.end, last.start).trim();
    }
    return { kind: 'syscall', pos, time, end, name: nameTok.text, args, result, errno, note };
  }

  /** Raw text between two offsets, rebuilt from the tokens (no source kept). */
  private src(from: number, to: number): string {
    let s = '';
    let prevEnd = from;
    for (const t of this.toks) {
      if (t.start < from || t.end > to) continue;
      if (t.start > prevEnd) s += ' ';
      s += t.kind === 'string' ? `"${t.text}"` : t.text;
      prevEnd = t.end;
    }
    return s;
  }

  private expr(): Expr {
    let left = this.primary();
    while (this.isPunct('|')) {
      const op = this.next();
      const right = this.primary();
      left = { kind: 'or', left, right, pos: op.pos };
    }
    return left;
  }

  private primary(): Expr {
    const t = this.peek();
    switch (t.kind) {
      case 'ellipsis':
        this.next();
        return { kind: 'ellipsis', pos: t.pos };
      case 'int':
      case 'hex':
        this.next();
        return { kind: 'int', value: t.value, pos: t.pos };
      case 'string': {
        this.next();
        let ellipsis = false;
        if (this.peek().kind === 'ellipsis') {
          this.next();
          ellipsis = true;
        }
        return { kind: 'string', value: t.text, ellipsis, pos: t.pos };
      }
      case 'word': {
        this.next();
        let head: Expr = { kind: 'word', name: t.text, pos: t.pos };
        let name = t.text;
        if (this.isPunct('(')) {
          this.next();
          const args: Expr[] = [];
          if (!this.isPunct(')')) {
            for (;;) {
              args.push(this.expr());
              if (this.isPunct(',')) {
                this.next();
                continue;
              }
              break;
            }
          }
          this.expectPunct(')', `to close ${t.text}(`);
          head = { kind: 'call', name: t.text, args, pos: t.pos };
          name = t.text;
        }
        if (this.isPunct('=')) {
          this.next();
          return { kind: 'assign', name, value: this.expr(), pos: t.pos };
        }
        return head;
      }
      case 'punct': {
        if (t.text === '[' || t.text === '{') {
          const close = t.text === '[' ? ']' : '}';
          this.next();
          const items: Expr[] = [];
          if (!this.isPunct(close)) {
            for (;;) {
              items.push(this.expr());
              if (this.isPunct(',')) {
                this.next();
                continue;
              }
              break;
            }
          }
          if (!this.isPunct(close)) {
            this.fail(
              this.peek(),
              `expected ',' or '${close}' to close '${t.text}' opened at ${t.pos.line}:${t.pos.col} but found ${this.describe(this.peek())}`,
            );
          }
          this.next();
          return t.text === '['
            ? { kind: 'array', items, pos: t.pos }
            : { kind: 'struct', items, pos: t.pos };
        }
        return this.fail(t, `expected an expression but found ${this.describe(t)}`);
      }
      default:
        return this.fail(t, `expected an expression but found ${this.describe(t)}`);
    }
  }
}
