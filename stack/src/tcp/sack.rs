//! Selective acknowledgements, both ends.
//!
//! Read first: RFC 2018 (the SACK option: what a receiver reports, §4, and
//! what a sender may conclude, §5), RFC 2883 (D-SACK: a duplicate reported
//! in the first block), RFC 6675 (SACK-based loss recovery: the
//! scoreboard, `IsLost`, `SetPipe`, `NextSeg`). Linux: net/ipv4/tcp_input.c
//! (`tcp_sacktag_write_queue`, `tcp_sack_new_ofo_skb`, `tcp_dsack_set`,
//! `tcp_check_sack_reneging`, `tcp_fastretrans_alert`), tcp_output.c
//! (`tcp_xmit_retransmit_queue`).
//!
//! **Receiver.** Each ACK sent while the out-of-order queue holds data
//! lists the blocks we hold beyond RCV.NXT, the block with the most recently
//! received segment first (RFC 2018 §4), then the others most recent first,
//! as many as fit. A segment wholly below RCV.NXT is reported once as a
//! D-SACK block (RFC 2883 §4), so the sender can tell that a retransmission
//! was not needed.
//!
//! **Sender.** The scoreboard (`TcpSock::sacked`) holds what the peer has
//! SACKed above SND.UNA, as sorted disjoint ranges. Between SND.UNA and the
//! highest SACKed byte lie the holes. RFC 6675 §4 deems a hole lost once
//! three discontiguous blocks or more than two segments' worth of SACKed
//! bytes lie above it (`IsLost`). `pipe` counts the bytes still in the
//! network: holes not deemed lost, plus everything retransmitted (up to
//! `high_rxt`). During recovery a segment may go while `cwnd - pipe` is at
//! least one MSS, and `next_seg` picks it: a lost hole not yet
//! retransmitted, else new data, else a hole below the highest SACK.
//!
//! A retransmission can be lost too. RFC 6675 leaves that to the
//! retransmission timer; Linux (`tcp_mark_lost_retrans`, before RACK) sees
//! it sooner: once data sent *after* the retransmission has been SACKed,
//! more than DupThresh − 1 segments of it, the retransmission is deemed
//! lost and goes again (`rtx_marks`, `relost`).

use super::seq::SeqNumber;
use super::sock::TcpSock;
use crate::wire::tcp::{SackBlock, MAX_SACK_BLOCKS};

/// Scoreboard entries kept per connection: a peer cannot make us hold more
/// (blocks beyond it are not recorded, and only cost us some precision).
pub const MAX_SACKED_RANGES: usize = 256;

/// RFC 6675 §2 DupThresh.
pub const DUP_THRESH: usize = 3;

/// A retransmission made during recovery: its range, and SND.MAX when it left.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct RtxMark {
    pub start: SeqNumber,
    pub end: SeqNumber,
    pub snd_max: SeqNumber,
}

/// Retransmissions watched per recovery (a bound, like the scoreboard's).
pub const MAX_RTX_MARKS: usize = 256;

/// One hole between SND.UNA and the highest SACKed byte.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Hole {
    pub start: SeqNumber,
    pub end: SeqNumber,
    /// RFC 6675 §4 `IsLost` for every byte of it (they all have the same
    /// SACKed bytes above them).
    pub lost: bool,
}

/// What a segment's SACK blocks did to the scoreboard.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct SackUpdate {
    /// Bytes newly SACKed ("new SACK information", RFC 6675 §2 DupAck).
    pub newly_sacked: usize,
    /// The first block was a D-SACK (RFC 2883): a duplicate arrived.
    pub dsack: bool,
    /// Blocks outside SND.UNA..SND.MAX, ignored.
    pub invalid: usize,
}

impl TcpSock {
    // ------------------------------------------------------------ receiver

    /// The SACK blocks for the next ACK: a pending D-SACK first, then the
    /// out-of-order entries most recently touched first, at most `room`.
    pub fn sack_blocks_for_ack(&self, room: usize) -> ([SackBlock; MAX_SACK_BLOCKS], u8) {
        let mut out = [(SeqNumber(0), SeqNumber(0)); MAX_SACK_BLOCKS];
        let mut n = 0;
        let room = room.min(MAX_SACK_BLOCKS);
        if !self.sack_ok || room == 0 {
            return (out, 0);
        }
        if let Some(d) = self.dsack {
            out[0] = d;
            n = 1;
        }
        // Most recently touched first: a partial selection, `room` passes
        // over a queue of at most MAX_OFO_SEGMENTS entries.
        let mut last_taken = u32::MAX;
        while n < room {
            let best = self.out_of_order_queue.iter().filter(|e| e.touched < last_taken).max_by_key(|e| e.touched);
            let Some(e) = best else { break };
            last_taken = e.touched;
            out[n] = (e.seq, e.end() + usize::from(e.fin));
            n += 1;
        }
        (out, n as u8)
    }

    /// Bytes of SACK option the next ACK would carry (for the payload room
    /// of a data segment that carries it).
    pub fn sack_opt_len(&self, room: usize) -> usize {
        if !self.sack_ok || (self.dsack.is_none() && self.out_of_order_queue.is_empty()) {
            return 0;
        }
        let n = (usize::from(self.dsack.is_some()) + self.out_of_order_queue.len()).min(room);
        4 + 8 * n
    }

    // ------------------------------------------------------------ sender

    /// Fold the SACK blocks of an ACK into the scoreboard (RFC 6675 §4
    /// Update(); Linux `tcp_sacktag_write_queue`), after SND.UNA moved to
    /// the ACK. Blocks outside `SND.UNA..SND.MAX` are ignored (RFC 2018
    /// §5 allows nothing else to be believed); the first block is a D-SACK
    /// if it lies below the cumulative ACK or inside the second block
    /// (RFC 2883 §4).
    pub fn sack_update(&mut self, ack: SeqNumber, blocks: &[SackBlock]) -> SackUpdate {
        let mut u = SackUpdate::default();
        for (k, &(start, end)) in blocks.iter().enumerate() {
            if k == 0
                && (end.before_eq(ack)
                    || blocks.get(1).is_some_and(|&(s2, e2)| start.after_eq(s2) && end.before_eq(e2)))
            {
                u.dsack = true;
                continue;
            }
            if !start.before(end) || start.before(self.snd_una) || end.after(self.snd_max) {
                u.invalid += 1;
                continue;
            }
            u.newly_sacked += self.sacked_insert(start, end);
        }
        u
    }

    /// Add `[start, end)` to the sorted, disjoint scoreboard; returns the
    /// bytes it newly covers.
    fn sacked_insert(&mut self, start: SeqNumber, end: SeqNumber) -> usize {
        let v = &mut self.sacked;
        // First range that ends at or after our start (touching merges).
        let i = v.partition_point(|r| r.1.before(start));
        let mut j = i;
        let (mut lo, mut hi) = (start, end);
        let mut covered = 0;
        while j < v.len() && v[j].0.before_eq(end) {
            lo = lo.min_seq(v[j].0);
            hi = hi.max_seq(v[j].1);
            covered += v[j].1.since(v[j].0);
            j += 1;
        }
        if i == j && v.len() >= MAX_SACKED_RANGES {
            return 0;
        }
        let new = hi.since(lo) - covered;
        v.splice(i..j, [(lo, hi)]);
        new
    }

    /// Forget what SND.UNA has passed. Returns true if the receiver has
    /// reneged: the first byte not yet acknowledged was SACKed, so it
    /// threw away data it had SACKed (RFC 2018 §8, Linux
    /// `tcp_check_sack_reneging`); the whole scoreboard is then dropped.
    pub fn sacked_prune(&mut self) -> bool {
        let una = self.snd_una;
        let drop = self.sacked.partition_point(|r| r.1.before_eq(una));
        self.sacked.drain(..drop);
        if let Some(first) = self.sacked.first_mut() {
            if first.0.before_eq(una) {
                self.sacked.clear();
                return true;
            }
        }
        if self.sacked.is_empty() && self.sacked.capacity() > 16 {
            self.sacked = Vec::new();
        }
        false
    }

    /// The SACKed range that holds `seq`, if any: its end.
    pub fn sacked_end_at(&self, seq: SeqNumber) -> Option<SeqNumber> {
        let i = self.sacked.partition_point(|r| r.1.before_eq(seq));
        self.sacked.get(i).filter(|r| r.0.before_eq(seq)).map(|r| r.1)
    }

    /// The start of the first SACKed range after `seq`, if any.
    pub fn sacked_next_after(&self, seq: SeqNumber) -> Option<SeqNumber> {
        let i = self.sacked.partition_point(|r| r.1.before_eq(seq));
        self.sacked.get(i).map(|r| r.0.max_seq(seq))
    }

    /// The holes from SND.UNA up to the highest SACKed byte, lowest first,
    /// each with RFC 6675 `IsLost`.
    pub fn sack_holes(&self) -> Vec<Hole> {
        let mut holes = Vec::with_capacity(self.sacked.len());
        let (mut bytes_above, mut blocks_above) = (0usize, 0usize);
        let mut hi: Option<SeqNumber> = None;
        for &(start, end) in self.sacked.iter().rev() {
            if let Some(h) = hi {
                if end.before(h) {
                    holes.push(Hole { start: end, end: h, lost: self.is_lost(blocks_above, bytes_above) });
                }
            }
            bytes_above += end.since(start);
            blocks_above += 1;
            hi = Some(start);
        }
        if let Some(h) = hi {
            if self.snd_una.before(h) {
                holes.push(Hole { start: self.snd_una, end: h, lost: self.is_lost(blocks_above, bytes_above) });
            }
        }
        holes.reverse();
        holes
    }

    /// RFC 6675 §4 IsLost(SeqNum): "DupThresh discontiguous SACKed
    /// sequences have arrived above 'SeqNum' or more than (DupThresh - 1) *
    /// SMSS bytes with sequence numbers greater than 'SeqNum' have been SACKed".
    fn is_lost(&self, blocks_above: usize, bytes_above: usize) -> bool {
        blocks_above >= DUP_THRESH || bytes_above > (DUP_THRESH - 1) * self.mss
    }

    /// Is the first unacknowledged byte deemed lost?
    pub fn head_lost(&self) -> bool {
        self.sack_holes().first().is_some_and(|h| h.start == self.snd_una && h.lost)
    }

    /// Bytes SACKed above `seq`.
    fn sacked_above(&self, seq: SeqNumber) -> usize {
        self.sacked.iter().rev().take_while(|r| r.1.after(seq)).map(|r| r.1.since(r.0.max_seq(seq))).sum()
    }

    /// Remember a retransmission made in recovery, to see whether it is lost too.
    pub fn sack_note_retransmit(&mut self, start: SeqNumber, end: SeqNumber) {
        if self.rtx_marks.len() < MAX_RTX_MARKS && start.before(end) {
            self.rtx_marks.push_back(RtxMark { start, end, snd_max: self.snd_max });
        }
    }

    /// Linux `tcp_mark_lost_retrans`: each watched retransmission whose
    /// range is still a hole while more than DupThresh − 1 segments sent
    /// after it have been SACKed is lost; it moves to `relost`, to be sent
    /// again first. Returns how many were found.
    pub fn sack_detect_lost_retrans(&mut self) -> usize {
        let threshold = (DUP_THRESH - 1) * self.mss;
        let marks = std::mem::take(&mut self.rtx_marks);
        let mut found = 0;
        for m in marks {
            let start = m.start.max_seq(self.snd_una);
            if !start.before(m.end) || self.sacked_end_at(start).is_some_and(|e| e.after_eq(m.end)) {
                continue; // acknowledged or SACKed: it arrived
            }
            if self.sacked_above(m.snd_max) > threshold {
                found += 1;
                self.relost.push((start, m.end));
            } else {
                self.rtx_marks.push_back(m);
            }
        }
        found
    }

    /// The first range of `relost` still neither acknowledged nor SACKed
    /// (trimmed to what is not), dropping those that are.
    pub fn sack_next_relost(&mut self) -> Option<(SeqNumber, usize)> {
        while let Some(&(s, e)) = self.relost.first() {
            let s = s.max_seq(self.snd_una);
            let s = self.sacked_end_at(s).unwrap_or(s);
            let e = self.sacked_next_after(s).map_or(e, |n| n.min_seq(e));
            if s.before(e) {
                return Some((s, e.since(s)));
            }
            self.relost.remove(0);
        }
        None
    }

    /// What went again from `relost` up to `end` is no longer owed.
    pub fn relost_trim(&mut self, end: SeqNumber) {
        if let Some(first) = self.relost.first_mut() {
            first.0 = first.0.max_seq(end);
            if !first.0.before(first.1) {
                self.relost.remove(0);
            }
        }
    }

    /// RFC 6675 §4 SetPipe(): the sender's estimate of the bytes in the network.
    /// `holes`: `sack_holes()`, which the caller has at hand.
    pub fn sack_pipe(&self, holes: &[Hole]) -> usize {
        let top = self.sacked.last().map_or(self.snd_una, |r| r.1).max_seq(self.snd_una);
        // Above the highest SACK nothing is deemed lost: all of it counts.
        let mut pipe = self.snd_max.since(top);
        for h in holes {
            if !h.lost {
                pipe += h.end.since(h.start);
            }
            // (b) retransmitted bytes count once more (they are in flight again).
            let rtx_end = h.end.min_seq(self.high_rxt);
            pipe += rtx_end.since(h.start);
        }
        // A retransmission known lost is not in the network any more.
        for &(s, e) in &self.relost {
            pipe = pipe.saturating_sub(e.min_seq(self.high_rxt).since(s.max_seq(self.snd_una)));
        }
        pipe
    }

    /// RFC 6675 §4 NextSeg(): the next segment to send in recovery, as
    /// (sequence number, largest length, rule). `None`: nothing to send
    /// (rule 2, new data, is left to the caller, which knows the windows).
    pub fn sack_next_retransmit(&self, holes: &[Hole], rule: u8) -> Option<(SeqNumber, usize)> {
        for h in holes {
            // (1) a lost hole: its bytes above HighRxt; (3) any hole below
            // the highest SACK, lost or not.
            if rule == 1 && !h.lost {
                continue;
            }
            let s = h.start.max_seq(self.high_rxt);
            if s.before(h.end) {
                return Some((s, h.end.since(s)));
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tcp::TcpConfig;

    fn sock(una: u32, max: u32) -> TcpSock {
        let mut sk = TcpSock::new(&TcpConfig::default());
        sk.sack_ok = true;
        sk.mss = 1000;
        sk.snd_una = SeqNumber(una);
        sk.high_rxt = SeqNumber(una);
        sk.snd_max = SeqNumber(max);
        sk.snd_nxt = SeqNumber(max);
        sk
    }

    #[test]
    fn scoreboard_merges_and_counts_new_bytes() {
        let mut sk = sock(1000, 11000);
        let u = sk.sack_update(SeqNumber(1000), &[(SeqNumber(3000), SeqNumber(4000))]);
        assert_eq!(u.newly_sacked, 1000);
        let u =
            sk.sack_update(SeqNumber(1000), &[(SeqNumber(5000), SeqNumber(6000)), (SeqNumber(3000), SeqNumber(4000))]);
        assert_eq!(u.newly_sacked, 1000);
        // Bridging the two: only the middle is new.
        let u = sk.sack_update(SeqNumber(1000), &[(SeqNumber(3500), SeqNumber(5500))]);
        assert_eq!(u.newly_sacked, 1000);
        assert_eq!(sk.sacked, vec![(SeqNumber(3000), SeqNumber(6000))]);
        // Outside SND.UNA..SND.MAX, or backwards: ignored.
        let u = sk.sack_update(
            SeqNumber(1000),
            &[
                (SeqNumber(9000), SeqNumber(12000)),
                (SeqNumber(500), SeqNumber(900)),
                (SeqNumber(8000), SeqNumber(7000)),
            ],
        );
        assert_eq!((u.newly_sacked, u.invalid), (0, 3));
    }

    #[test]
    fn dsack_is_recognised() {
        let mut sk = sock(5000, 11000);
        // Below the cumulative ACK.
        let u = sk.sack_update(SeqNumber(5000), &[(SeqNumber(2000), SeqNumber(3000))]);
        assert!(u.dsack && u.newly_sacked == 0);
        // Inside the second block.
        let u =
            sk.sack_update(SeqNumber(5000), &[(SeqNumber(7000), SeqNumber(7500)), (SeqNumber(6000), SeqNumber(8000))]);
        assert!(u.dsack);
        assert_eq!(u.newly_sacked, 2000);
    }

    #[test]
    fn holes_lost_and_pipe_follow_rfc_6675() {
        // 10 segments of 1000 in flight from 1000; the peer SACKs 3, 5, 6, 7
        // (segment k is [1000k, 1000k+1000)).
        let mut sk = sock(1000, 11000);
        for k in [3u32, 5, 6, 7] {
            sk.sack_update(SeqNumber(1000), &[(SeqNumber(1000 * k), SeqNumber(1000 * k + 1000))]);
        }
        assert_eq!(sk.sacked, vec![(SeqNumber(3000), SeqNumber(4000)), (SeqNumber(5000), SeqNumber(8000))]);
        let holes = sk.sack_holes();
        // [1000,3000): 4000 bytes / 2 blocks above: lost. [4000,5000): 3000
        // bytes above, > 2 MSS: lost too.
        assert_eq!(
            holes,
            vec![
                Hole { start: SeqNumber(1000), end: SeqNumber(3000), lost: true },
                Hole { start: SeqNumber(4000), end: SeqNumber(5000), lost: true },
            ]
        );
        assert!(sk.head_lost());
        // Pipe: nothing of the lost holes, all of 8000..11000 above the top SACK.
        assert_eq!(sk.sack_pipe(&sk.sack_holes()), 3000);
        // Rule 1 picks the first lost byte above HighRxt; retransmitting it counts in pipe.
        assert_eq!(sk.sack_next_retransmit(&holes, 1), Some((SeqNumber(1000), 2000)));
        sk.high_rxt = SeqNumber(2000);
        assert_eq!(sk.sack_pipe(&sk.sack_holes()), 4000);
        assert_eq!(sk.sack_next_retransmit(&holes, 1), Some((SeqNumber(2000), 1000)));
        sk.high_rxt = SeqNumber(5000);
        assert_eq!(sk.sack_next_retransmit(&holes, 1), None);
        // One SACKed segment above a hole is not a loss yet (a reordering, perhaps).
        let mut sk = sock(1000, 5000);
        sk.sack_update(SeqNumber(1000), &[(SeqNumber(2000), SeqNumber(3000))]);
        assert!(!sk.head_lost());
        assert_eq!(sk.sack_pipe(&sk.sack_holes()), 3000);
        assert_eq!(sk.sack_next_retransmit(&sk.sack_holes(), 1), None);
        assert_eq!(sk.sack_next_retransmit(&sk.sack_holes(), 3), Some((SeqNumber(1000), 1000)));
    }

    #[test]
    fn reneging_drops_the_scoreboard() {
        let mut sk = sock(1000, 11000);
        sk.sack_update(SeqNumber(1000), &[(SeqNumber(3000), SeqNumber(4000))]);
        sk.snd_una = SeqNumber(2000);
        assert!(!sk.sacked_prune());
        assert_eq!(sk.sacked.len(), 1);
        // The cumulative ACK stops exactly at a SACKed range: the receiver dropped it.
        sk.snd_una = SeqNumber(3000);
        assert!(sk.sacked_prune());
        assert!(sk.sacked.is_empty());
        // Past a range: simply forgotten.
        sk.sack_update(SeqNumber(3000), &[(SeqNumber(5000), SeqNumber(6000))]);
        sk.snd_una = SeqNumber(6000);
        assert!(!sk.sacked_prune());
        assert!(sk.sacked.is_empty());
    }

    #[test]
    fn scoreboard_is_bounded() {
        let mut sk = sock(0, 10_000_000);
        for k in 0..(MAX_SACKED_RANGES as u32 + 50) {
            sk.sack_update(SeqNumber(0), &[(SeqNumber(10 + 20 * k), SeqNumber(20 + 20 * k))]);
        }
        assert_eq!(sk.sacked.len(), MAX_SACKED_RANGES);
    }
}
