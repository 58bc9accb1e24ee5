/**
 * Wire parsers never throw on bad bytes: they return a `WireError` value and the
 * caller drops the packet and counts it (DESIGN.md, "Errors in three tiers").
 */
export type WireErrorKind = 'truncated' | 'malformed' | 'checksum' | 'unsupported';

export interface WireError {
  readonly wireError: WireErrorKind;
  readonly detail: string;
}

export function wireError(kind: WireErrorKind, detail: string): WireError {
  return { wireError: kind, detail };
}

export function isWireError(x: unknown): x is WireError {
  return typeof x === 'object' && x !== null && typeof (x as { wireError?: unknown }).wireError === 'string';
}
