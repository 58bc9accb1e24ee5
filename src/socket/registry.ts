/**
 * Named backends, so programs can pick one by name (`--backend os|stack`).
 * The Node entry point registers 'os'; the stack backend registers 'stack' with
 * one `registerBackend('stack', () => ...)` call where it is wired up.
 */
import type { SocketBackend } from './backend.ts';

export type BackendFactory = () => SocketBackend | Promise<SocketBackend>;

const factories = new Map<string, BackendFactory>();

export function registerBackend(name: string, factory: BackendFactory): void {
  factories.set(name, factory);
}

export function registeredBackends(): string[] {
  return [...factories.keys()];
}

/** The backend registered under `name`; throws a clear Error when there is none. */
export async function getBackend(name: string): Promise<SocketBackend> {
  const f = factories.get(name);
  if (!f) {
    const known = registeredBackends().join(', ') || 'none';
    throw new Error(
      name === 'stack'
        ? `the 'stack' socket backend is registered by importing 'sockstack/node' (registered backends: ${known})`
        : `unknown socket backend '${name}' (registered backends: ${known})`,
    );
  }
  return f();
}
