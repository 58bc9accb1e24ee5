/**
 * For tests that run a child process as an unprivileged user (uid 65534, "nobody"): that
 * user may not be able to read this checkout (a private temporary folder, a home under
 * /root). `bundleForNobody` copies what the child needs into a directory the test made:
 * one ES module bundled from the TypeScript sources (esbuild, so no tsx loader is needed)
 * and the packages left outside the bundle (koffi, whose native part cannot be bundled),
 * all world-readable. The child then runs with that directory as its cwd and imports only
 * from it, wherever the checkout is.
 */
import { chmodSync, cpSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { build } from 'esbuild';

/** Packages the bundles import at run time instead of containing them. */
const EXTERNAL = ['koffi'];

/** The directory of package `name` that holds `file` (its package.json names it). */
function packageDir(file: string, name: string): string {
  let d = dirname(file);
  for (let i = 0; i < 20; i++) {
    const pj = join(d, 'package.json');
    if (existsSync(pj) && (JSON.parse(readFileSync(pj, 'utf8')) as { name?: string }).name === name) return d;
    d = dirname(d);
  }
  throw new Error(`no package.json of ${name} above ${file}`);
}

function copyPackage(from: string, name: string, dir: string): void {
  const to = join(dir, 'node_modules', name);
  mkdirSync(dirname(to), { recursive: true });
  cpSync(from, to, { recursive: true, dereference: true });
}

/** World-readable (and searchable) all the way down. */
function openUp(path: string): void {
  const st = statSync(path);
  chmodSync(path, st.isDirectory() ? 0o755 : 0o644);
  if (st.isDirectory()) for (const n of readdirSync(path)) openUp(join(path, n));
}

/**
 * Bundles `entry` (an absolute path to a .ts module of this checkout) into `dir/name` and
 * copies the external packages into `dir/node_modules`. Returns the bundle's path; `dir`
 * itself is made world-readable, and must be somewhere nobody can reach (os.tmpdir()).
 */
export async function bundleForNobody(entry: string, dir: string, name = 'bundle.mjs'): Promise<string> {
  const out = join(dir, name);
  await build({
    entryPoints: [entry],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    external: EXTERNAL,
    outfile: out,
    logLevel: 'silent',
  });
  const require = createRequire(import.meta.url);
  for (const pkg of EXTERNAL) {
    const pkgDir = packageDir(require.resolve(pkg), pkg);
    copyPackage(pkgDir, pkg, dir);
    // Its native parts come in optional per-platform packages (koffi: @koromix/koffi-linux-x64).
    const meta = JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8')) as {
      optionalDependencies?: Record<string, string>;
    };
    const from = createRequire(join(pkgDir, 'package.json'));
    for (const opt of Object.keys(meta.optionalDependencies ?? {})) {
      let found: string | undefined;
      try {
        found = from.resolve(`${opt}/package.json`);
      } catch {
        continue; // another platform's package, not installed here
      }
      copyPackage(dirname(found), opt, dir);
    }
  }
  openUp(dir);
  return out;
}
