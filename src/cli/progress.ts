/**
 * A progress bar for transfer commands: bytes done, rate and ETA, redrawn in
 * place with \r on a TTY (at most every `minIntervalMs` of wall time), silent
 * when stderr is not a terminal. The clock is injectable: pass the simulation's
 * virtual clock to show virtual rates, or leave the default (performance.now).
 */
export interface ProgressOptions {
  /** Total bytes, when known (enables percent and ETA). */
  total?: number;
  label?: string;
  /** Where to draw; draws nothing when `isTTY` is false. */
  write: (text: string) => void;
  isTTY: boolean;
  /** Width of the whole line. Default 80. */
  columns?: number;
  /** Time source in ms. Default performance.now. */
  now?: () => number;
  /** Least wall time between redraws. Default 100 ms. */
  minIntervalMs?: number;
}

export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(1)} ${units[i]}`;
}

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '--:--';
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
}

export class Progress {
  readonly #o: ProgressOptions;
  readonly #now: () => number;
  readonly #start: number;
  #last = Number.NEGATIVE_INFINITY;
  #done = 0;
  #drawn = false;

  constructor(options: ProgressOptions) {
    this.#o = options;
    this.#now = options.now ?? (() => performance.now());
    this.#start = this.#now();
  }

  get done(): number {
    return this.#done;
  }

  /** Adds `bytes` to the count and redraws if due. */
  add(bytes: number): void {
    this.update(this.#done + bytes);
  }

  /** Sets the count and redraws if due. */
  update(done: number): void {
    this.#done = done;
    const t = this.#now();
    if (t - this.#last >= (this.#o.minIntervalMs ?? 100)) {
      this.#last = t;
      this.#draw(t);
    }
  }

  /** The line as it would be drawn now (also for tests). */
  line(t = this.#now()): string {
    const elapsed = Math.max(1e-9, (t - this.#start) / 1000);
    const rate = this.#done / elapsed;
    const total = this.#o.total;
    const cols = this.#o.columns ?? 80;
    const label = this.#o.label ? `${this.#o.label} ` : '';
    const rateText = `${formatBytes(rate)}/s`;
    if (total === undefined || total <= 0) return `${label}${formatBytes(this.#done)}  ${rateText}`;
    const frac = Math.min(1, this.#done / total);
    const eta = rate > 0 ? (total - this.#done) / rate : Number.POSITIVE_INFINITY;
    const tail = ` ${(frac * 100).toFixed(0).padStart(3)}% ${formatBytes(this.#done)}/${formatBytes(total)} ${rateText} ETA ${formatDuration(eta)}`;
    const barW = Math.max(5, cols - label.length - tail.length - 3);
    const full = Math.round(frac * barW);
    return `${label}[${'#'.repeat(full)}${'.'.repeat(barW - full)}]${tail}`;
  }

  #draw(t: number): void {
    if (!this.#o.isTTY) return;
    this.#o.write(`\r${this.line(t)}\x1b[K`);
    this.#drawn = true;
  }

  /** Final redraw and newline (TTY only). */
  finish(): void {
    if (!this.#o.isTTY) return;
    this.#draw(this.#now());
    if (this.#drawn) this.#o.write('\n');
  }
}
