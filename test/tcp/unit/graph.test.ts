/** src/tcp is a graph read top-down: no module imports one that imports it back. */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { it } from 'node:test';

const ROOT = new URL('../../../src/tcp/', import.meta.url).pathname;

function files(dir: string, out: string[] = []): string[] {
  for (const n of readdirSync(dir)) {
    const p = join(dir, n);
    if (statSync(p).isDirectory()) files(p, out);
    else if (n.endsWith('.ts')) out.push(p);
  }
  return out;
}

/** Every relative import or re-export of `file`, `import type` included. */
function imports(file: string): string[] {
  const src = readFileSync(file, 'utf8');
  const out: string[] = [];
  for (const m of src.matchAll(/(?:^|\n)\s*(?:import|export)\s[^;]*?\sfrom\s+'(\.{1,2}\/[^']+)'/g))
    out.push(normalize(join(dirname(file), m[1]!)));
  return out;
}

/** The first import cycle found, as a path of files, or undefined. */
function findCycle(graph: Map<string, string[]>): string[] | undefined {
  const state = new Map<string, 'open' | 'done'>();
  const path: string[] = [];
  const visit = (f: string): string[] | undefined => {
    if (state.get(f) === 'done') return undefined;
    if (state.get(f) === 'open') return [...path.slice(path.indexOf(f)), f];
    state.set(f, 'open');
    path.push(f);
    for (const t of graph.get(f) ?? []) {
      const c = graph.has(t) ? visit(t) : undefined;
      if (c) return c;
    }
    path.pop();
    state.set(f, 'done');
    return undefined;
  };
  for (const f of graph.keys()) {
    const c = visit(f);
    if (c) return c;
  }
  return undefined;
}

it('no import cycle among the modules of src/tcp, not even through import type', () => {
  const graph = new Map(files(ROOT).map((f) => [f, imports(f)]));
  assert.ok(graph.size > 20);
  assert.ok(
    [...graph.values()].some((l) => l.length > 0),
    'imports were found',
  );
  const cycle = findCycle(graph);
  assert.equal(cycle?.map((f) => relative(ROOT, f)).join(' -> '), undefined);
});

it('the cycle finder finds a cycle', () => {
  const g = new Map([
    ['a', ['b']],
    ['b', ['c']],
    ['c', ['a']],
  ]);
  assert.deepEqual(findCycle(g), ['a', 'b', 'c', 'a']);
  assert.equal(
    findCycle(
      new Map([
        ['a', ['b']],
        ['b', []],
      ]),
    ),
    undefined,
  );
});
