/**
 * Playback of a recorded session for the course page: a position in the event list
 * that moves one event per tick while playing, or one event per step. Time here is
 * the viewer's, not the network's: the session already ran on virtual time, and the
 * player only decides how much of it is shown. No DOM; the page gives it a scheduler.
 */
import type { SessionEvent } from './echo-session.ts';

/** Starts a repeating tick; returns a function that stops it. */
export type Scheduler = (tick: () => void, everyMs: number) => () => void;

export type PlayerState = 'paused' | 'playing' | 'done';

export class Player {
  readonly #events: readonly SessionEvent[];
  readonly #schedule: Scheduler;
  readonly #onChange: (p: Player) => void;
  #shown = 0;
  #stop: (() => void) | undefined;
  #everyMs: number;

  constructor(
    events: readonly SessionEvent[],
    schedule: Scheduler,
    onChange: (p: Player) => void,
    everyMs = 250,
  ) {
    this.#events = events;
    this.#schedule = schedule;
    this.#onChange = onChange;
    this.#everyMs = everyMs;
  }

  /** How many events are shown (0 = none yet). */
  get shown(): number {
    return this.#shown;
  }

  get total(): number {
    return this.#events.length;
  }

  get state(): PlayerState {
    if (this.#shown >= this.#events.length) return 'done';
    return this.#stop ? 'playing' : 'paused';
  }

  /** The events shown so far. */
  visible(): readonly SessionEvent[] {
    return this.#events.slice(0, this.#shown);
  }

  play(): void {
    if (this.#stop || this.state === 'done') return;
    this.#stop = this.#schedule(() => this.#advance(), this.#everyMs);
    this.#onChange(this);
  }

  pause(): void {
    if (!this.#stop) return;
    this.#stop();
    this.#stop = undefined;
    this.#onChange(this);
  }

  toggle(): void {
    if (this.#stop) this.pause();
    else this.play();
  }

  /** Shows one more event (and pauses). */
  step(): void {
    this.pause();
    this.#advance();
  }

  /** Shows one event less (and pauses). */
  back(): void {
    this.pause();
    if (this.#shown > 0) {
      this.#shown--;
      this.#onChange(this);
    }
  }

  /** Shows every event. */
  toEnd(): void {
    this.pause();
    this.#shown = this.#events.length;
    this.#onChange(this);
  }

  /** Ticks every `ms` from now on. */
  setSpeed(ms: number): void {
    this.#everyMs = ms;
    if (this.#stop) {
      this.#stop();
      this.#stop = this.#schedule(() => this.#advance(), ms);
    }
  }

  /** Stops ticking for good (the page is about to replace this player). */
  dispose(): void {
    this.#stop?.();
    this.#stop = undefined;
  }

  #advance(): void {
    if (this.#shown < this.#events.length) this.#shown++;
    if (this.#shown >= this.#events.length && this.#stop) {
      this.#stop();
      this.#stop = undefined;
    }
    this.#onChange(this);
  }
}
