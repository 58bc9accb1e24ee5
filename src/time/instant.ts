/**
 * Time in the stack is an `Instant`: an integer count of microseconds on some
 * clock's timeline. Plain numbers keep the hot path allocation-free; 2^53 µs is
 * about 285 years, so integer arithmetic stays exact.
 */
export type Instant = number;
/** A span of time in integer microseconds. */
export type Duration = number;

export const MICROS_PER_MILLI = 1000;
export const MICROS_PER_SECOND = 1_000_000;

export const micros = (n: number): Duration => Math.round(n);
export const millis = (n: number): Duration => Math.round(n * MICROS_PER_MILLI);
export const seconds = (n: number): Duration => Math.round(n * MICROS_PER_SECOND);
export const toMillis = (d: Duration): number => d / MICROS_PER_MILLI;
export const toSeconds = (d: Duration): number => d / MICROS_PER_SECOND;

/** Formats an instant as seconds with microsecond precision, e.g. `1.000250`. */
export function formatInstant(t: Instant): string {
  const s = Math.floor(t / MICROS_PER_SECOND);
  const us = t - s * MICROS_PER_SECOND;
  return `${s}.${String(us).padStart(6, '0')}`;
}
