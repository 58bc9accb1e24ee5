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
