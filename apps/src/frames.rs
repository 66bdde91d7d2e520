//! Frame lines in tcpdump's words, from one printer for the whole program.
//!
//! Like `tcpdump -n`, TCP sequence and acknowledgement numbers print
//! relative to each connection's first ones by default (`seq 1:120, ack 1`),
//! and as they are on the wire with `-S` (`seq 3132660445:3132660564`), so a
//! student can hold synack's lines next to tcpdump's, run the same way.
//! Relative numbers need memory of each connection: `stack::tcpdump::Printer`
//! keeps it (bounded); this keeps one printer per thread.

use stack::tcpdump::Printer;
use std::cell::RefCell;

thread_local! {
    static PRINTER: RefCell<Printer> = RefCell::new(Printer::new());
}

/// `-S`: absolute sequence numbers from now on.
pub fn set_absolute(on: bool) {
    PRINTER.with(|p| {
        let mut p = p.borrow_mut();
        p.absolute = on;
        p.reset();
    });
}

/// One frame as one line of `tcpdump -n` (or `-n -S`), without the timestamp.
pub fn line(frame: &[u8]) -> String {
    PRINTER.with(|p| p.borrow_mut().format(frame))
}

#[cfg(test)]
mod tests {
    use super::*;
    use stack::tcp::SeqNumber;
    use stack::wire::frame::tcp_frame;
    use stack::wire::{TcpFlags, TcpRepr};

    /// Ethernet/IPv4/TCP 10.0.0.2:23 > 10.0.0.1:5000 with these numbers.
    fn seg(flags: TcpFlags, seq: u32, ack: u32) -> Vec<u8> {
        let t = TcpRepr::new(0, 0, SeqNumber(seq), Some(SeqNumber(ack)), flags, 0xffff);
        tcp_frame("10.0.0.2:23".parse().unwrap(), "10.0.0.1:5000".parse().unwrap(), &t, &[])
    }

    #[test]
    fn relative_by_default_absolute_with_s() {
        set_absolute(false);
        assert!(line(&seg(TcpFlags::SYN | TcpFlags::ACK, 1000, 5000)).contains("seq 1000, ack 5000"));
        assert!(line(&seg(TcpFlags::ACK, 1001, 5000)).contains("ack 1,"), "relative after the SYN-ACK");
        set_absolute(true);
        assert!(line(&seg(TcpFlags::ACK, 1001, 5000)).contains("ack 5000"));
        set_absolute(false);
    }
}
