/**
 * The stack target's sysctl mapping: a script's settings (commands.ts turns sysctls and
 * knobs into `TargetSetting`s, docs/conformance.md) onto a live stack's TcpConfig where an
 * equivalent exists; `false` for knobs the stack lacks. Settings apply to connections opened
 * afterwards, as sysctls do. The defaults come from the TCP profile the target chose.
 */
import type { TcpConfig } from '../tcp/config.ts';
import { TFO_CLIENT_ENABLE, TFO_SERVER_ENABLE } from '../tcp/fastopen.ts';
import type { TcpProfile } from '../tcp/profile.ts';
import type { Dialect } from './symbols.ts';
import type { TargetSetting } from './target.ts';

export class StackSettings {
  readonly #config: TcpConfig;
  readonly #dialect: Dialect;
  /**
   * FreeBSD's rexmit_min and rexmit_slop (the profile's rtoMin and rtoSlop until a script
   * sets them): TCPT_RANGESET adds the slop to every RTO, so the stack's minimum RTO is
   * their sum (exact while the RTT is small).
   */
  #rexmitMin: number;
  #rexmitSlop: number;

  /** The layer's Fast Open state follows the key and the flush (the config alone is read at creation). */
  readonly #onFastOpenKey: ((key: Uint8Array) => void) | undefined;
  readonly #onFastOpenFlush: (() => void) | undefined;

  constructor(
    config: TcpConfig,
    profile: TcpProfile,
    dialect: Dialect,
    fastOpen?: { setKey(key: Uint8Array): void; flushCache(): void },
  ) {
    this.#onFastOpenKey = fastOpen ? (k) => fastOpen.setKey(k) : undefined;
    this.#onFastOpenFlush = fastOpen ? () => fastOpen.flushCache() : undefined;
    this.#config = config;
    this.#dialect = dialect;
    this.#rexmitMin = profile.rtoMin;
    this.#rexmitSlop = profile.rtoSlop;
  }

  configure(setting: TargetSetting): boolean {
    const c = this.#config;
    const v = setting.value;
    const num = typeof v === 'number' ? v : Number(v);
    const on = v === true || (typeof v === 'number' && v !== 0);
    switch (setting.name) {
      case 'timestamps':
        c.timestamps = on;
        return true;
      case 'sack':
        c.sack = on;
        return true;
      case 'windowScaling':
        c.windowScaling = on;
        return true;
      // RFC 3168 ECN: 0 off, 1 ask and accept, 2 accept only (tcp/ecn.ts). Linux's 3+
      // (AccECN, RFC 9768) is not supported.
      case 'ecn':
        if (num !== 0 && num !== 1 && num !== 2) return false;
        c.ecn = num;
        return true;
      case 'recvBufferDefault':
        c.rcvBuf = num;
        return true;
      // The largest receive buffer, which the offered window scale covers (RFC 7323 §2.3):
      // Linux tcp_rmem[2], FreeBSD kern.ipc.maxsockbuf.
      case 'maxRecvBuffer':
      case 'maxSocketBuffer':
        c.maxRcvBuf = num;
        return true;
      case 'sendBufferDefault':
        c.sndBuf = num;
        return true;
      // Send-buffer autotuning's bound and switch (tcp/sndbuf-auto.ts): Linux tcp_wmem[2],
      // FreeBSD net.inet.tcp.sendbuf_max and sendbuf_auto (a FreeBSD sysctl: Linux has no switch).
      case 'maxSendBuffer':
        c.maxSndBuf = num;
        return true;
      case 'sendBufferAuto':
        c.sndBufAuto = on ? 'freebsd-sendbuf-auto' : 'none';
        return true;
      case 'synRetries':
        c.synRetries = num;
        return true;
      case 'synAckRetries':
        c.synAckRetries = num;
        return true;
      case 'congestionControl':
        if (v === 'cubic' || v === 'newreno' || v === 'reno' || v === 'bbr') {
          c.congestion = v === 'reno' ? 'newreno' : v;
          return true;
        }
        return false;
      case 'synCookies':
        c.synCookies = num === 0 ? 'never' : num === 2 ? 'always' : 'auto';
        return true;
      case 'mtuProbing':
        return num === 0; // no RFC 4821 probing
      case 'finTimeoutUs':
        c.finWait2Timeout = num;
        return true;
      case 'keepIdleUs':
        c.keepIdle = num;
        return true;
      case 'keepIntervalUs':
        c.keepInterval = num;
        return true;
      case 'keepCount':
        c.keepCount = num;
        return true;
      case 'keepInitUs':
        c.keepInit = num;
        return true;
      case 'maxRetransmits':
        c.retries = num;
        return true;
      case 'minRtoUs':
        this.#rexmitMin = num;
        c.minRto = num + this.#rexmitSlop;
        return true;
      case 'initialRtoUs':
        c.initialRto = num;
        return true;
      case 'delayedAckUs':
        c.delayedAckTimeout = num;
        return true;
      case 'initialWindowSegments':
        return num === 10; // RFC 6928 IW10, fixed
      // net.ipv4.tcp_min_tso_segs: the fewest segments of a GSO packet (PSH placement, push.ts).
      case 'minTsoSegs':
        if (!Number.isInteger(num) || num < 1) return false;
        c.minTsoSegs = num;
        return true;
      // net.ipv4.tcp_notsent_lowat: the default TCP_NOTSENT_LOWAT (UINT_MAX: no limit).
      case 'notSentLowat':
        if (!Number.isFinite(num) || num < 0) return false;
        c.notSentLowat = num >= 0xffffffff ? Number.POSITIVE_INFINITY : num;
        return true;
      case 'rtoSlopUs':
        // FreeBSD's TCPT_RANGESET adds rexmit_slop to every RTO; folded into the minimum.
        if (this.#dialect !== 'freebsd') return num === 0;
        this.#rexmitSlop = num;
        c.minRto = this.#rexmitMin + num;
        c.synRtoSlop = num;
        return true;
      // net.ipv4.tcp_fastopen (RFC 7413): the TFO_* bits (tcp/fastopen.ts); bits the stack
      // does not know (Linux's old 0x10000.. queue sizes) are carried and ignored.
      case 'fastOpen':
        if (!Number.isInteger(num) || num < 0) return false;
        c.fastOpen = num;
        return true;
      // FreeBSD net.inet.tcp.fastopen.client_enable / server_enable: one bit each.
      case 'fastOpenClient':
        c.fastOpen = on ? c.fastOpen | TFO_CLIENT_ENABLE : c.fastOpen & ~TFO_CLIENT_ENABLE;
        return true;
      case 'fastOpenServer':
        c.fastOpen = on ? c.fastOpen | TFO_SERVER_ENABLE : c.fastOpen & ~TFO_SERVER_ENABLE;
        return true;
      case 'fastOpenKey': {
        // net.ipv4.tcp_fastopen_key: four 32-bit hex words, each stored little-endian
        // (proc_tcp_fastopen_key's cpu_to_le32); a second (backup) key after a comma is not kept.
        const words = String(v).split(',')[0]!.split('-');
        if (words.length !== 4 || !words.every((w) => /^[0-9a-fA-F]{1,8}$/.test(w))) return false;
        const key = new Uint8Array(16);
        const dv = new DataView(key.buffer);
        for (let i = 0; i < 4; i++) dv.setUint32(4 * i, Number.parseInt(words[i]!, 16), true);
        c.fastOpenKey = key;
        this.#onFastOpenKey?.(key);
        return true;
      }
      case 'fastOpenFlush':
        this.#onFastOpenFlush?.();
        return true;
      case 'tlp':
        c.tlp = on;
        return true;
      // FreeBSD TCP over UDP (net.inet.tcp.udp_tunneling_port / _overhead).
      case 'alwaysKeepalive':
        c.alwaysKeepalive = on;
        return true;
      case 'udpTunnelingPort':
        if (!Number.isInteger(num) || num < 0 || num > 65535) return false;
        c.udpTunnelingPort = num;
        return true;
      case 'udpTunnelingOverhead':
        if (!Number.isInteger(num) || num < 0 || num > 1024) return false;
        c.udpTunnelingOverhead = num;
        return true;
      case 'recovery':
        // net.ipv4.tcp_recovery: the RACK bits (config.ts RECOVERY_*); 0 is DupThresh.
        if (!Number.isInteger(num) || num < 0 || num > 7) return false;
        c.recovery = num;
        return true;
      // net.ipv4.tcp_frto: F-RTO (RFC 5682) after an RTO (tcp/frto.ts); 1 and 2 run alike.
      case 'frto':
        if (!Number.isInteger(num) || num < 0 || num > 2) return false;
        c.frto = num;
        return true;
      case 'slowStartAfterIdle':
        c.slowStartAfterIdle = on; // RFC 5681 §4.1 restart window after an idle RTO
        return true;
      case 'dupThresh':
        return num === 3;
      case 'dsack':
        c.dsack = on;
        return true;
      // ICMP hard errors abort a connection in SYN-SENT/SYN-RECEIVED unless told otherwise
      // (RFC 1122 §4.2.3.9; FreeBSD icmp_may_rst).
      case 'icmpMayReset':
        c.icmpMayReset = on;
        return true;
      // RFC 5961 §3 / §4 (FreeBSD net.inet.tcp.insecure_rst / insecure_syn turn them off).
      case 'rfc5961Rst':
        c.rfc5961Rst = on;
        return true;
      case 'rfc5961Syn':
        c.rfc5961Syn = on;
        return true;
      case 'dropSynFin':
        c.dropSynFin = on;
        return true;
      case 'tolerateMissingTs':
        c.tolerateMissingTs = on;
        return true;
      // RFC 5961 §7 ACK throttling: per connection, and host-wide for challenge ACKs.
      case 'invalidRateLimitUs':
        c.invalidRateLimit = num;
        return true;
      case 'invalidRateBurst':
        c.invalidRateBurst = num;
        return true;
      case 'challengeAckLimit':
        c.challengeAckLimit = num;
        return true;
      default:
        return false;
    }
  }
}
