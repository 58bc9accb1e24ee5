/**
 * Socket-buffer sizing rules of a profile (TcpConfig.sockBufRounding, profile.ts).
 *
 * FreeBSD's tcp_mss() rounds both socket buffers up to a whole number of segments once the
 * MSS is known ("bufsize = roundup(bufsize, mss)": 65536 -> 65700 for MSS 1460), which
 * FreeBSD scripts observe through SO_RCVBUF and the advertised window. Linux keeps the
 * sizes as set.
 */

export type SockBufRounding = 'none' | 'mss-multiple';

/**
 * Whether a send buffer has room enough again for a writer that found it full (the writer
 * wakes; poll says POLLOUT). `lowat` 0: Linux sk_stream_is_writeable, "sk_stream_wspace(sk)
 * >= sk_stream_min_wspace(sk)": the free room is at least half of what is queued. Otherwise
 * FreeBSD sowriteable, "sbspace(&so->so_snd) >= so->so_snd.sb_lowat", the mark at most the
 * buffer (soreserve). Deviation: both count payload bytes against the buffer, not skb truesize
 * or mbuf storage, so the buffer holds SO_SNDBUF bytes of data (stream-options.ts).
 */
export function sndSpaceReady(
  buf: { readonly space: number; readonly length: number; readonly limit: number },
  lowat: number,
): boolean {
  const s = buf.space;
  return s > 0 && s >= (lowat ? Math.min(lowat, buf.limit) : buf.length >> 1);
}

/** `bytes` rounded up to a whole number of `mss`-sized segments. */
export function roundUpToSegments(bytes: number, mss: number): number {
  return mss > 0 ? Math.ceil(bytes / mss) * mss : bytes;
}

/** What a connection's buffer sizes become once its MSS is known (pure). */
export function establishedBufferSizes(
  rule: SockBufRounding,
  mss: number,
  sizes: { readonly rcvBuf: number; readonly sndBuf: number },
): { rcvBuf: number; sndBuf: number } {
  if (rule === 'none') return { rcvBuf: sizes.rcvBuf, sndBuf: sizes.sndBuf };
  return { rcvBuf: roundUpToSegments(sizes.rcvBuf, mss), sndBuf: roundUpToSegments(sizes.sndBuf, mss) };
}

/** The part of a connection the rule touches (the TCB; structural, so no import of it). */
export interface SizedConnection {
  readonly mss: number;
  readonly opts: { readonly rcvBuf: number; readonly sndBuf: number };
  /** The options to change (the connection's own copy: Tcb.ownOpts). */
  ownOpts(): { rcvBuf: number; sndBuf: number };
  readonly rcvBuf: { limit: number };
  readonly sndBuf: { limit: number };
  readonly layer: {
    readonly config: {
      readonly sockBufRounding: SockBufRounding;
      readonly sndBuf: number;
      readonly rcvBuf: number;
    };
  };
  /** The send buffer's size was chosen (SO_SNDBUF): no autotuning (sndbuf-auto.ts). */
  sndBufLocked: boolean;
  /** The receive buffer's size was chosen (SO_RCVBUF): no autotuning (rcvbuf-auto.ts). */
  rcvBufLocked: boolean;
}

/**
 * Applies the profile's rule to a connection that has just reached ESTABLISHED (its MSS
 * is now fixed), after noting whether its send buffer may autotune. Called once per connection, from each place the handshake completes.
 */
export function sizeBuffersOnEstablished(c: SizedConnection): void {
  // Made with a send buffer other than the default (SO_SNDBUF before connect or listen).
  if (c.opts.sndBuf !== c.layer.config.sndBuf) c.sndBufLocked = true;
  if (c.opts.rcvBuf !== c.layer.config.rcvBuf) c.rcvBufLocked = true;
  const rule = c.layer.config.sockBufRounding;
  if (rule === 'none') return;
  const s = establishedBufferSizes(rule, c.mss, c.opts);
  const own = c.ownOpts();
  own.rcvBuf = s.rcvBuf;
  own.sndBuf = s.sndBuf;
  c.rcvBuf.limit = s.rcvBuf;
  c.sndBuf.limit = s.sndBuf;
}
