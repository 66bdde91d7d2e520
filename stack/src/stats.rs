//! Counters, and the one place every dropped packet goes through.
//!
//! Read first: the kernel's `kfree_skb_reason()` and `enum skb_drop_reason`
//! (include/net/dropreason-core.h). Every packet synack throws away names its
//! reason here, bumps that reason's counter, and leaves a trace event, so
//! `stats` at the prompt explains every loss.

macro_rules! named_enum {
    ($(#[$m:meta])* $vis:vis enum $Name:ident { $($Var:ident => $label:expr,)* }) => {
        $(#[$m])*
        #[derive(Copy, Clone, PartialEq, Eq, Hash, Debug)]
        $vis enum $Name { $($Var,)* }
        impl $Name {
            pub const ALL: &'static [$Name] = &[$($Name::$Var,)*];
            pub const COUNT: usize = [$($Name::$Var,)*].len();
            /// A short, stable, snake_case name (used by `stats` and tests).
            pub fn name(self) -> &'static str { match self { $($Name::$Var => $label,)* } }
            pub fn index(self) -> usize { self as usize }
        }
        impl core::fmt::Display for $Name {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result { f.write_str(self.name()) }
        }
    };
}

named_enum! {
/// Why a packet was dropped. Grouped by the layer that dropped it.
pub enum DropReason {
    // Ethernet (ethernet.rs)
    EthTooShort => "eth_too_short",
    EthNotForUs => "eth_not_for_us",
    EthUnknownType => "eth_unknown_ethertype",
    EthOversize => "eth_oversize",
    // ARP (arp.rs)
    ArpTruncated => "arp_truncated",
    ArpBadHardware => "arp_bad_hardware",
    ArpBadProtocol => "arp_bad_protocol",
    ArpBadOpcode => "arp_bad_opcode",
    ArpBadSender => "arp_bad_sender",
    ArpNotForUs => "arp_not_for_us",
    ArpQueueFull => "arp_pending_queue_full",
    ArpTableFull => "arp_table_full",
    ArpUnresolved => "arp_unresolved",
    // IPv4 (ipv4.rs, route.rs)
    IpTooShort => "ip_too_short",
    IpBadVersion => "ip_bad_version",
    IpBadIhl => "ip_bad_ihl",
    IpBadChecksum => "ip_bad_checksum",
    IpBadTotalLength => "ip_bad_total_length",
    IpTtlZero => "ip_ttl_zero",
    IpBadSource => "ip_bad_source",
    IpBadOptions => "ip_bad_options",
    IpNotForUs => "ip_not_for_us",
    IpUnknownProtocol => "ip_unknown_protocol",
    IpNoRoute => "ip_no_route",
    IpFragNeeded => "ip_frag_needed_df",
    // Reassembly (ip_frag.rs)
    FragTooBig => "frag_too_big",
    FragOverlap => "frag_overlap",
    FragDuplicate => "frag_duplicate",
    FragBadLength => "frag_bad_length",
    FragTimeout => "frag_timeout",
    FragMemory => "frag_memory_limit",
    // ICMP (icmp.rs)
    IcmpTooShort => "icmp_too_short",
    IcmpBadChecksum => "icmp_bad_checksum",
    IcmpUnhandledType => "icmp_unhandled_type",
    IcmpRateLimited => "icmp_rate_limited",
    IcmpNoPingWaiting => "icmp_echo_reply_unexpected",
    // UDP (udp.rs)
    UdpTooShort => "udp_too_short",
    UdpBadLength => "udp_bad_length",
    UdpBadChecksum => "udp_bad_checksum",
    UdpNoSocket => "udp_no_socket",
    UdpRcvBufFull => "udp_rcvbuf_full",
    // TCP (tcp/)
    TcpTooShort => "tcp_too_short",
    TcpBadDataOffset => "tcp_bad_data_offset",
    TcpBadChecksum => "tcp_bad_checksum",
    TcpBadFlags => "tcp_bad_flags",
    TcpBadOptions => "tcp_bad_options",
    TcpNoSocket => "tcp_no_socket",
    TcpNotAcceptable => "tcp_seq_not_acceptable",
    TcpAckUnsent => "tcp_ack_unsent_data",
    TcpOldAck => "tcp_ack_old",
    TcpRstInvalid => "tcp_rst_invalid",
    TcpSynInWindow => "tcp_syn_in_window",
    TcpSynQueueFull => "tcp_syn_queue_full",
    TcpAcceptQueueFull => "tcp_accept_queue_full",
    TcpOfoQueueFull => "tcp_ofo_queue_full",
    TcpRcvBufFull => "tcp_rcvbuf_full",
    TcpClosed => "tcp_socket_closed",
    TcpListenNoSyn => "tcp_listen_not_syn",
    TcpTooManySockets => "tcp_too_many_sockets",
    TcpNoAck => "tcp_no_ack_bit",
    TcpSynSentNoSyn => "tcp_syn_sent_not_syn",
    TcpSyncookieBad => "tcp_syncookie_bad",
    TcpPawsRejected => "tcp_paws_rejected",
}
}

impl DropReason {
    /// The clause a drop follows, for the trace (`-v`): the RFC that says
    /// to discard such a packet, or, where discarding is our (Linux's)
    /// policy, the RFC of the mechanism and the Linux name.
    pub fn rfc(self) -> &'static str {
        use DropReason::*;
        match self {
            EthTooShort | EthUnknownType | EthOversize => "RFC 894",
            EthNotForUs => "IEEE 802.3 §3.2.3",
            ArpTruncated | ArpBadHardware | ArpBadProtocol | ArpBadOpcode | ArpNotForUs => "RFC 826 Packet Reception",
            ArpBadSender => "RFC 826, RFC 5227 §2.4",
            ArpQueueFull | ArpTableFull => "RFC 1122 §2.3.2.2",
            ArpUnresolved => "RFC 1122 §2.3.2.1",
            IpTooShort | IpBadIhl | IpBadTotalLength => "RFC 791 §3.1",
            IpBadVersion => "RFC 1122 §3.2.1.1",
            IpBadChecksum => "RFC 1122 §3.2.1.2",
            IpTtlZero => "RFC 1122 §3.2.1.7",
            IpBadSource | IpNotForUs => "RFC 1122 §3.2.1.3",
            IpBadOptions => "RFC 1122 §3.2.1.8",
            IpUnknownProtocol => "RFC 1122 §3.2.2.1",
            IpNoRoute => "RFC 1122 §3.3.1",
            IpFragNeeded => "RFC 1191 §3",
            FragTooBig | FragOverlap | FragDuplicate | FragBadLength | FragMemory => "RFC 791 §3.2",
            FragTimeout => "RFC 1122 §3.3.2",
            IcmpTooShort | IcmpBadChecksum => "RFC 792",
            IcmpUnhandledType => "RFC 1122 §3.2.2",
            IcmpRateLimited => "RFC 1812 §4.3.2.8",
            IcmpNoPingWaiting => "RFC 792 Echo Reply",
            UdpTooShort | UdpBadLength | UdpRcvBufFull => "RFC 768",
            UdpBadChecksum => "RFC 1122 §4.1.3.4",
            UdpNoSocket => "RFC 1122 §4.1.3.1",
            TcpTooShort | TcpBadDataOffset | TcpBadChecksum | TcpBadFlags => "RFC 9293 §3.1",
            TcpBadOptions => "RFC 9293 §3.2",
            TcpNoSocket => "RFC 9293 §3.10.7.1",
            TcpListenNoSyn | TcpSynQueueFull | TcpAcceptQueueFull | TcpTooManySockets => "RFC 9293 §3.10.7.2",
            TcpSynSentNoSyn => "RFC 9293 §3.10.7.3",
            TcpNotAcceptable => "RFC 9293 §3.10.7.4 step 1",
            TcpRstInvalid => "RFC 5961 §3.2",
            TcpSynInWindow => "RFC 5961 §4.2",
            TcpAckUnsent | TcpNoAck => "RFC 9293 §3.10.7.4 step 5",
            TcpOldAck => "RFC 5961 §5.2",
            TcpOfoQueueFull | TcpRcvBufFull | TcpClosed => "RFC 9293 §3.10.7.4 step 7",
            TcpSyncookieBad => "RFC 4987 §3.6",
            TcpPawsRejected => "RFC 7323 §5.3",
        }
    }
}

named_enum! {
/// Things that happen and are worth counting (not drops).
pub enum Counter {
    FramesRx => "frames_rx",
    FramesTx => "frames_tx",
    // Wire segments that GRO (gro.rs) glued into larger ones: frames_rx
    // counts the glued segment once.
    GroMergedSegments => "gro_merged_segments",
    ArpRx => "arp_rx",
    ArpTx => "arp_tx",
    ArpRequestsTx => "arp_requests_tx",
    ArpRepliesTx => "arp_replies_tx",
    // A full neighbour table (arp.rs `neigh_forced_gc`): entries forgotten,
    // by kind, and request senders not remembered (Linux `table_fulls`).
    ArpEvictedUnused => "arp_evicted_unused",
    ArpEvictedUnresolved => "arp_evicted_unresolved",
    ArpEvictedIdle => "arp_evicted_idle",
    ArpSenderNotCached => "arp_sender_not_cached",
    IpRx => "ip_rx",
    IpTx => "ip_tx",
    IpDelivered => "ip_delivered",
    FragsRx => "ip_frags_rx",
    FragsReassembled => "ip_datagrams_reassembled",
    FragsTx => "ip_frags_tx",
    IcmpRx => "icmp_rx",
    IcmpTx => "icmp_tx",
    IcmpEchoRequestsRx => "icmp_echo_requests_rx",
    IcmpEchoRepliesTx => "icmp_echo_replies_tx",
    IcmpUnreachTx => "icmp_dest_unreach_tx",
    UdpRx => "udp_rx",
    UdpTx => "udp_tx",
    TcpRx => "tcp_rx",
    TcpTx => "tcp_tx",
    TcpRetransmits => "tcp_retransmits",
    TcpRstTx => "tcp_rst_tx",
    TcpActiveOpens => "tcp_active_opens",
    TcpPassiveOpens => "tcp_passive_opens",
    // close() threw data away with a RST (Linux TCPAbortOnClose: unread
    // data, RFC 2525 §2.17; TCPAbortOnData: SO_LINGER 0, tcp/linger.rs).
    TcpAbortOnClose => "tcp_abort_on_close",
    TcpAbortOnData => "tcp_abort_on_data",
    // Options answered as the RFCs say rather than dropped (wire/tcp.rs, `TcpOptions::parse`).
    TcpOptMssZero => "tcp_opt_mss_zero_ignored",
    TcpOptWscaleClamped => "tcp_opt_wscale_clamped",
    // RFC 5961 §7 challenge ACKs (Linux TCPChallengeACK) and the limit biting.
    TcpChallengeAcks => "tcp_challenge_acks",
    TcpChallengeAckLimited => "tcp_challenge_ack_limited",
    // RFC 4987 §3.6 SYN cookies, Linux's names (SyncookiesSent/Recv/Failed).
    SyncookiesSent => "syncookies_sent",
    SyncookiesRecv => "syncookies_recv",
    SyncookiesFailed => "syncookies_failed",
    // Loss recovery (Linux TCPSackRecovery, TCPRenoRecovery, TCPLossProbes…).
    TcpSackRecovery => "tcp_sack_recovery",
    TcpRenoRecovery => "tcp_reno_recovery",
    TcpRtoRecovery => "tcp_rto_recovery",
    // RFC 2883 D-SACKs (Linux TCPDSACKOldSent / TCPDSACKRecv) and RFC 2018 §8 reneging.
    TcpDsackSent => "tcp_dsack_sent",
    TcpDsackRecv => "tcp_dsack_recv",
    TcpSackReneging => "tcp_sack_reneging",
    // A retransmission found lost by SACKs of later data (Linux TCPLostRetransmit).
    TcpLostRetransmit => "tcp_lost_retransmit",
    // RFC 8985 §7 tail loss probes sent (Linux TCPLossProbes).
    TcpLossProbes => "tcp_loss_probes",
    // RFC 8985 §7.4.2: a probe's ACK showed it repaired a loss (Linux TCPLossProbeRecovery).
    TcpLossProbeRecovery => "tcp_loss_probe_recovery",
    // RFC 8985 §6.2 step 5: segments RACK deemed lost by time; reorder
    // timer expiries (§6.3); D-SACKs that widened reo_wnd (§6.2 step 4).
    TcpRackLost => "tcp_rack_lost",
    TcpRackReoTimeout => "tcp_rack_reo_timeout",
    TcpRackReoWndUp => "tcp_rack_reo_wnd_up",
    // RFC 6937 §3: ACKs on which PRR set cwnd, proportionally or by the slow start reduction bound.
    TcpPrrProportional => "tcp_prr_proportional",
    TcpPrrSsrb => "tcp_prr_ssrb",
    // RFC 2883 §5: D-SACKs showed every retransmission of a recovery needless, cwnd restored (Linux TCPDSACKUndo).
    TcpDsackUndo => "tcp_dsack_undo",
    // RFC 3522 Eifel: a retransmission proved spurious, the cwnd cut undone (Linux TCPFullUndo).
    TcpSpuriousUndo => "tcp_spurious_undo",
}
}

/// All counters of one stack.
#[derive(Clone, Debug)]
pub struct Stats {
    drops: [u64; DropReason::COUNT],
    counters: [u64; Counter::COUNT],
}

impl Default for Stats {
    fn default() -> Self {
        Stats { drops: [0; DropReason::COUNT], counters: [0; Counter::COUNT] }
    }
}

impl Stats {
    pub fn count_drop(&mut self, reason: DropReason) {
        self.drops[reason.index()] += 1;
    }
    pub fn inc(&mut self, c: Counter) {
        self.counters[c.index()] += 1;
    }
    pub fn inc_by(&mut self, c: Counter, n: u64) {
        self.counters[c.index()] += n;
    }
    pub fn drops(&self, reason: DropReason) -> u64 {
        self.drops[reason.index()]
    }
    pub fn get(&self, c: Counter) -> u64 {
        self.counters[c.index()]
    }
    pub fn total_drops(&self) -> u64 {
        self.drops.iter().sum()
    }
    /// Non-zero drop counters, in declaration order.
    pub fn nonzero_drops(&self) -> impl Iterator<Item = (DropReason, u64)> + '_ {
        DropReason::ALL.iter().map(|&r| (r, self.drops(r))).filter(|&(_, n)| n > 0)
    }
    /// Non-zero counters, in declaration order.
    pub fn nonzero_counters(&self) -> impl Iterator<Item = (Counter, u64)> + '_ {
        Counter::ALL.iter().map(|&c| (c, self.get(c))).filter(|&(_, n)| n > 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn names_are_unique() {
        let mut names: Vec<_> = DropReason::ALL.iter().map(|r| r.name()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), DropReason::COUNT);
        let mut s = Stats::default();
        s.count_drop(DropReason::IpBadChecksum);
        assert_eq!(s.drops(DropReason::IpBadChecksum), 1);
        assert_eq!(s.nonzero_drops().collect::<Vec<_>>(), vec![(DropReason::IpBadChecksum, 1)]);
    }

    #[test]
    fn every_drop_reason_cites_a_clause() {
        for r in DropReason::ALL {
            assert!(!r.rfc().is_empty(), "{r}");
        }
    }
}
