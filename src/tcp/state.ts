/** Connection states, spelled as in RFC 9293 §3.3.2. */
export type TcpState =
  | 'CLOSED'
  | 'LISTEN'
  | 'SYN-SENT'
  | 'SYN-RECEIVED'
  | 'ESTABLISHED'
  | 'FIN-WAIT-1'
  | 'FIN-WAIT-2'
  | 'CLOSE-WAIT'
  | 'CLOSING'
  | 'LAST-ACK'
  | 'TIME-WAIT';

/** States in which the connection is synchronized (RFC 9293 §3.5.2). */
export function isSynchronized(s: TcpState): boolean {
  return s !== 'CLOSED' && s !== 'LISTEN' && s !== 'SYN-SENT' && s !== 'SYN-RECEIVED';
}

/** States in which we may still send data (our FIN not yet queued). */
export function canSendData(s: TcpState): boolean {
  return s === 'ESTABLISHED' || s === 'CLOSE-WAIT';
}

/** States in which the peer may still send us data (their FIN not yet received). */
export function canReceiveData(s: TcpState): boolean {
  return s === 'ESTABLISHED' || s === 'FIN-WAIT-1' || s === 'FIN-WAIT-2';
}

/** CLOSED or LISTEN: no connection exists (RFC 9293 §3.10.7.1, §3.10.7.2). */
export function isUnconnected(s: TcpState): boolean {
  return s === 'CLOSED' || s === 'LISTEN';
}

/** SYN-SENT or SYN-RECEIVED: the three-way handshake is in progress (RFC 9293 §3.5). */
export function isHandshaking(s: TcpState): boolean {
  return s === 'SYN-SENT' || s === 'SYN-RECEIVED';
}

/**
 * Synchronized states in which data we sent may still be unacknowledged (our FIN is not
 * yet known to be acknowledged): the retransmission, persist and loss-probe timers run.
 */
export function canHaveDataInFlight(s: TcpState): boolean {
  return (
    s === 'ESTABLISHED' || s === 'CLOSE-WAIT' || s === 'FIN-WAIT-1' || s === 'CLOSING' || s === 'LAST-ACK'
  );
}

/** States in which CLOSE queues a FIN (RFC 9293 §3.10.4; SYN-RECEIVED sends it once ESTABLISHED). */
export function canQueueFin(s: TcpState): boolean {
  return s === 'ESTABLISHED' || s === 'CLOSE-WAIT' || s === 'SYN-RECEIVED';
}
