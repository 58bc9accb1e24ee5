// The TCP layer's counters.

/** Layer-wide counters: every drop and notable event. */
export function newTcpStats() {
  return {
    segmentsIn: 0,
    /** Connections served by the poll-driven output pass (TcpLayer.runOutputPass), one per batch each. */
    outputPasses: 0,
    segmentsOut: 0,
    badSegment: 0,
    noListener: 0,
    rstSent: 0,
    rstReceived: 0,
    resets: 0,
    retransmits: 0,
    timeouts: 0,
    timedOut: 0,
    fastRetransmits: 0,
    /** RFC 8985 tail loss probes sent, and those whose ACK showed they repaired a loss. */
    lossProbes: 0,
    lossProbeRecoveries: 0,
    /** RFC 8985 RACK: bytes marked lost, and reordering-timer expiries. */
    rackLosses: 0,
    rackTimeouts: 0,
    partialAckRetransmits: 0,
    sackRecoveries: 0,
    dupAcks: 0,
    challengeAcks: 0,
    challengeAcksSuppressed: 0,
    /** RFC 5961 §7: replies to invalid segments held back by config.invalidRateLimit. */
    invalidAcksSuppressed: 0,
    /** Segments that skipped PAWS because TS.Recent was invalid (RFC 7323 §5.5, idle > 24 days). */
    pawsStaleAccepted: 0,
    /** SACK blocks ignored as invalid (beyond SND.MAX, or at or below SND.UNA but no D-SACK). */
    invalidSackBlocks: 0,
    /** SYNs with FIN dropped by a listener (config.dropSynFin). */
    synFinDrops: 0,
    cookiesSent: 0,
    cookiesAccepted: 0,
    cookiesFailed: 0,
    backlogDrops: 0,
    synQueueDrops: 0,
    outOfWindow: 0,
    /** Out-of-window (or PAWS-failing) SYNs in a synchronized state, sent to the challenge-ACK path (RFC 5961 §4.2). */
    synChallenges: 0,
    /** Duplicates ending exactly at RCV.NXT, processed as acceptable (their ACK field), as Linux does. */
    duplicateAtRcvNxt: 0,
    pawsDrops: 0,
    missingTimestamp: 0,
    badAck: 0,
    ackOfUnsent: 0,
    ackTooOld: 0,
    outOfOrder: 0,
    reassemblyDrops: 0,
    /** Data segments dropped at the memory limit, and out-of-order queues pruned for it (memory.ts). */
    memoryDrops: 0,
    memoryPrunes: 0,
    truncatedToWindow: 0,
    zeroWindowDrops: 0,
    zeroWindowProbes: 0,
    delayedAcks: 0,
    keepaliveProbes: 0,
    keepaliveTimeouts: 0,
    dataAfterClose: 0,
    activeOpens: 0,
    passiveOpens: 0,
    established: 0,
    timeWaitExpired: 0,
    timeWaitRecycled: 0,
    timeWaitRstIgnored: 0,
    /** Segments for a connection that arrived by another UDP tunnel port (or none): reset. */
    tunnelPortMismatch: 0,
    deferredAcks: 0,
    finWait2Timeouts: 0,
    icmpNoConnection: 0,
    icmpOutOfWindow: 0,
    icmpAborts: 0,
    icmpSoftErrors: 0,
    /** IPv4 fragmentation-needed in a handshake ignored as FreeBSD's tcp_ctlinput does (config.mssOptionPerSyn). */
    icmpIgnored: 0,
    pmtuUpdates: 0,
    /** RFC 3168: connections that negotiated ECN, data segments that arrived CE-marked, and
     * window reductions for an ECN-Echo (at most one per window of data, §6.1.2). */
    ecnConnections: 0,
    ecnCeReceived: 0,
    ecnReductions: 0,
    /** Window reductions undone because D-SACKs showed every retransmission spurious (undo.ts). */
    spuriousUndos: 0,
    /**
     * RFC 7413 Fast Open (Linux's TcpExt counters of the same names): our SYN's data was
     * acknowledged / was not; connections made from a SYN with data; SYNs whose cookie failed;
     * SYNs turned away because the listener's Fast Open queue was full; cookie requests seen.
     */
    /** RTOs F-RTO (RFC 5682) found spurious, their reduction undone (Linux TCPSpuriousRTOs). */
    spuriousRtos: 0,
    fastOpenActive: 0,
    fastOpenActiveFail: 0,
    fastOpenPassive: 0,
    fastOpenPassiveFail: 0,
    fastOpenListenOverflow: 0,
    fastOpenCookieReqd: 0,
  };
}
export type TcpStats = ReturnType<typeof newTcpStats>;
