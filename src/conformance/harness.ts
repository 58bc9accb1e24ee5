/**
 * Command-line settings a suite's own harness passes to packetdrill for every script.
 * A script is written against its harness: gVisor's, for one, runs packetdrill with a
 * wider timing tolerance than packetdrill's default of 4 ms, and its scripts' timings
 * rely on it. Script option lines (`--tolerance_usecs=...`) still override these, as
 * they override packetdrill's command line.
 */
export interface SuiteHarness {
  /** Human name of the suite. */
  readonly suite: string;
  /** Matches the script path (with `/` separators). */
  readonly match: RegExp;
  /** `--tolerance_usecs` the harness passes. */
  readonly toleranceUs?: number;
  /** Where the setting comes from, for the report. */
  readonly source: string;
}

export const SUITE_HARNESSES: readonly SuiteHarness[] = [
  {
    suite: 'gVisor',
    match: /(^|\/)gvisor\/test\/packetdrill\//,
    toleranceUs: 100_000,
    source:
      'google/gvisor test/packetdrill/packetdrill_test.sh: `declare -r tolerance_usecs=100000`, passed to packetdrill as --tolerance_usecs',
  },
];

/** The harness a script's path belongs to, if any. */
export function harnessFor(path: string | undefined): SuiteHarness | undefined {
  if (path === undefined) return undefined;
  const p = path.replace(/\\/g, '/');
  return SUITE_HARNESSES.find((h) => h.match.test(p));
}
