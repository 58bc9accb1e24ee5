/**
 * A windowed running maximum (Kathleen Nichols' algorithm, as Linux lib/win_minmax.c): the
 * best, second-best and third-best samples within the window, so the maximum over the last
 * `window` time units is known in constant time and space. BBR keeps its bottleneck bandwidth
 * in one, over round trips (congestion/bbr.ts).
 */
interface Sample {
  t: number;
  v: number;
}

export class WindowedMax {
  #s: [Sample, Sample, Sample] = [
    { t: 0, v: 0 },
    { t: 0, v: 0 },
    { t: 0, v: 0 },
  ];

  /** The maximum over the window. */
  get value(): number {
    return this.#s[0].v;
  }

  /** Forgets every sample and starts over from (t, v). */
  reset(t: number, v: number): void {
    for (const s of this.#s) {
      s.t = t;
      s.v = v;
    }
  }

  /** Takes sample `v` at time `t` (non-decreasing) for a window of `window`; returns the maximum. */
  update(window: number, t: number, v: number): number {
    const s = this.#s;
    // A new maximum, or nothing left in the window: the sample is all three.
    if (v >= s[0].v || t - s[2].t > window) {
      this.reset(t, v);
      return v;
    }
    if (v >= s[1].v) {
      s[1] = { t, v };
      s[2] = { t, v };
    } else if (v >= s[2].v) {
      s[2] = { t, v };
    }
    return this.#subwinUpdate(window, t, v);
  }

  /** lib/win_minmax.c minmax_subwin_update: age the best samples out of the window. */
  #subwinUpdate(window: number, t: number, v: number): number {
    const s = this.#s;
    const dt = t - s[0].t;
    if (dt > window) {
      // The best expired: promote the second and third, and the new sample becomes third.
      s[0] = s[1];
      s[1] = s[2];
      s[2] = { t, v };
      if (t - s[0].t > window) {
        s[0] = s[1];
        s[1] = s[2];
        s[2] = { t, v };
      }
    } else if (s[1].t === s[0].t && dt > window / 4) {
      // A quarter of the window passed with no second choice: take one from the latter part.
      s[1] = { t, v };
      s[2] = { t, v };
    } else if (s[2].t === s[1].t && dt > window / 2) {
      // Half the window passed with no third choice: take one.
      s[2] = { t, v };
    }
    return s[0].v;
  }
}
