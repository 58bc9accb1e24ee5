/**
 * The shape of the source tree, checked from its import graph (docs/architecture.md):
 * - no import cycle anywhere under src/, type-only imports included (a cycle through
 *   `import type` still means two modules can only be understood together);
 * - TCP, UDP, the sockets layer, DNS and the stack's TCP glue reach the network layer
 *   through its family-generic interface (src/ip/network.ts), never through the IPv4
 *   layer itself (so IPv6 can sit beside it);
 * - the core (src/ outside src/node and src/cli) imports no `node:` module, so it runs
 *   in a browser.
 * Dynamic `import()` calls are not edges: they load lazily and cannot form an
 * initialisation cycle (the CLI uses them to start quickly).
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { test } from 'node:test';
import ts from 'typescript';

const ROOT = resolve(new URL('../..', import.meta.url).pathname);
const SRC = join(ROOT, 'src');

function walk(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p, out);
    else if (name.endsWith('.ts')) out.push(p);
  }
  return out;
}

/** Every module specifier a file names statically: imports, re-exports and `import('x')` types. */
export function specifiers(file: string, text: string): string[] {
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const out: string[] = [];
  const visit = (node: ts.Node): void => {
    if (
      (ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) &&
      node.moduleSpecifier &&
      ts.isStringLiteral(node.moduleSpecifier)
    ) {
      out.push(node.moduleSpecifier.text);
    } else if (
      ts.isImportTypeNode(node) &&
      ts.isLiteralTypeNode(node.argument) &&
      ts.isStringLiteral(node.argument.literal)
    ) {
      out.push(node.argument.literal.text);
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return out;
}

interface Graph {
  files: string[];
  edges: Map<string, string[]>;
  external: Map<string, string[]>;
}

function buildGraph(): Graph {
  const files = walk(SRC).map((f) => relative(ROOT, f));
  const edges = new Map<string, string[]>();
  const external = new Map<string, string[]>();
  for (const f of files) {
    const specs = specifiers(f, readFileSync(join(ROOT, f), 'utf8'));
    edges.set(
      f,
      specs.filter((s) => s.startsWith('.')).map((s) => relative(ROOT, resolve(ROOT, dirname(f), s))),
    );
    external.set(
      f,
      specs.filter((s) => !s.startsWith('.')),
    );
  }
  return { files, edges, external };
}

/** Strongly connected components of more than one file, or a file that imports itself (Tarjan). */
export function cycles(files: readonly string[], edges: ReadonlyMap<string, readonly string[]>): string[][] {
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const out: string[][] = [];
  const known = new Set(files);
  const strong = (v: string): void => {
    index.set(v, next);
    low.set(v, next);
    next++;
    stack.push(v);
    onStack.add(v);
    for (const w of edges.get(v) ?? []) {
      if (!known.has(w)) continue;
      if (!index.has(w)) {
        strong(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const scc: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        scc.push(w);
      } while (w !== v);
      if (scc.length > 1 || (edges.get(v) ?? []).includes(v)) out.push(scc.sort());
    }
  };
  for (const f of files) if (!index.has(f)) strong(f);
  return out;
}

const graph = buildGraph();

test('the cycle finder finds a cycle, including one of two files and a self-import', () => {
  const edges = new Map([
    ['a', ['b']],
    ['b', ['c']],
    ['c', ['a']],
    ['d', ['e']],
    ['e', ['d']],
    ['f', ['f']],
    ['g', ['a']],
  ]);
  assert.deepEqual(
    cycles(['a', 'b', 'c', 'd', 'e', 'f', 'g'], edges)
      .map((c) => c.join(' '))
      .sort(),
    ['a b c', 'd e', 'f'],
  );
  assert.deepEqual(specifiers('x.ts', "import type { A } from './a.ts';\nlet b: import('./b.ts').B;\n"), [
    './a.ts',
    './b.ts',
  ]);
});

test('no import cycle under src/ (type-only imports included)', () => {
  assert.ok(graph.files.length > 100, `read ${graph.files.length} files`);
  const found = cycles(graph.files, graph.edges);
  assert.deepEqual(
    found.map((c) => c.join(' -> ')),
    [],
    `import cycles (each line: the files of one cycle):\n${found.map((c) => c.join(' ')).join('\n')}`,
  );
});

/** The modules of the IPv4 layer itself, not the family-generic ones beside it (network.ts, interfaces.ts, ...). */
const IPV4_LAYER = ['ipv4', 'ipv4-network', 'output', 'icmpv4', 'forward', 'ping', 'arp', 'pmtu'].map((m) =>
  join('src', 'ip', `${m}.ts`),
);

test('transports, sockets, DNS and the TCP glue do not import the IPv4 layer (types included)', () => {
  const offenders: string[] = [];
  for (const f of graph.files) {
    if (!/^src\/(tcp|udp|socket|dns|stack)\//.test(f)) continue;
    for (const to of graph.edges.get(f) ?? [])
      if (IPV4_LAYER.includes(to)) offenders.push(`${f} imports ${to}`);
  }
  assert.deepEqual(offenders, []);
});

/** The modules of the IPv6 layer (issue #15): transports see it only through network.ts too. */
const IPV6_LAYER = [
  'ipv6',
  'ipv6-network',
  'ipv6-output',
  'ipv6-icmp',
  'ipv6-ping',
  'ipv6-fragment',
  'ipv6-pmtu',
  'ipv6-route',
  'ipv6-iface',
  'ipv6-mld',
  'ndp',
  'slaac',
].map((m) => join('src', 'ip', `${m}.ts`));

test('transports, sockets, DNS and the TCP glue do not import the IPv6 layer (types included)', () => {
  const offenders: string[] = [];
  for (const f of graph.files) {
    if (!/^src\/(tcp|udp|socket|dns|stack)\//.test(f)) continue;
    for (const to of graph.edges.get(f) ?? [])
      if (IPV6_LAYER.includes(to)) offenders.push(`${f} imports ${to}`);
  }
  // The list names files that exist: a renamed module cannot slip out of the rule.
  for (const m of IPV6_LAYER) assert.ok(graph.files.includes(m), `${m} exists`);
  assert.deepEqual(offenders, []);
});

test('the core (src/ outside src/node and src/cli) imports no node: module', () => {
  const offenders: string[] = [];
  for (const f of graph.files) {
    if (/^src\/(node|cli)\//.test(f)) continue;
    for (const s of graph.external.get(f) ?? []) if (s.startsWith('node:')) offenders.push(`${f}: ${s}`);
  }
  assert.deepEqual(offenders, []);
});
