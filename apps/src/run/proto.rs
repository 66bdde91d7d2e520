//! The messages of `synack run`'s control socket: what the LD_PRELOAD
//! library (apps/preload/) asks `synack up` (apps/src/run/server.rs) and
//! what it answers. Both sides compile this one file (the library with
//! `#[path]`), so the two cannot disagree about a byte.
//!
//! The control socket is a `SOCK_SEQPACKET` Unix socket: one message per
//! `sendmsg`, never split or merged, so a message is a fixed-size record,
//! little-endian, with a version first. An answer that creates a socket
//! carries the program's end of its socketpair as `SCM_RIGHTS`
//! (unix(7)); every other field is in the record.
//!
//! A socket is named by the inode of the program's end of its socketpair
//! (`fstat(fd).st_ino`, the number `ls -l /proc/PID/fd` shows as
//! `socket:[INODE]`): it survives `dup`, `fork` and `exec`, which fd
//! numbers do not.

/// Bumped whenever a record's layout or meaning changes: a library and a
/// `synack up` of different versions refuse each other (`EPROTO`).
pub const VERSION: u16 = 1;

/// The size of a request record.
pub const REQ_LEN: usize = 48;
/// The size of a reply record.
pub const REPLY_LEN: usize = 32;

/// What a request asks for. Each is the socket call of the same name (the
/// Linux function it reaches in brackets).
#[derive(Copy, Clone, PartialEq, Eq, Debug)]
#[repr(u16)]
pub enum Op {
    /// `socket(AF_INET, SOCK_STREAM)` (`__sys_socket`): `arg0` the type
    /// flags. Answered with the new fd.
    Socket = 1,
    /// `bind` (`inet_bind`): `addr`.
    Bind = 2,
    /// `listen` (`inet_listen`): `arg0` the backlog.
    Listen = 3,
    /// `accept4` (`inet_csk_accept`): answered with the child's fd and its
    /// peer in `addr`.
    Accept = 4,
    /// `connect` (`tcp_v4_connect`): `addr`; `arg0` the filler bytes the
    /// library wrote into its end to keep it unwritable until the
    /// handshake is done (server.rs).
    Connect = 5,
    /// `getsockname` (`inet_getname`).
    GetSockName = 6,
    /// `getpeername` (`inet_getname` with `peer`).
    GetPeerName = 7,
    /// `setsockopt` (`sock_setsockopt`, `do_tcp_setsockopt`): `arg0` the
    /// level, `arg1` the name, `arg2` the value.
    SetSockOpt = 8,
    /// `getsockopt` (`sock_getsockopt`, `do_tcp_getsockopt`): `arg0` the
    /// level, `arg1` the name; the value comes back in `ret`.
    GetSockOpt = 9,
    /// Is this inode one of synack's sockets? (After `exec`, the library
    /// knows nothing of the fds it inherited.) `ENOTSOCK` if not.
    Whois = 10,
    /// A read on the socket got end of file: is a connection error pending
    /// (a RST, a timeout)? Its errno in `ret`, 0 if none: Linux's
    /// `tcp_recvmsg` returns `sock_error` once instead of 0.
    PendingError = 11,
    /// The program made a call synack does not support on this socket;
    /// the library fails it (`arg0` the errno) and `synack up` writes one
    /// trace line naming it (`arg1`: an `Unsupported` code).
    Unsupported = 12,
}

/// The calls the library refuses on synack's sockets (`Op::Unsupported`'s `arg1`).
#[derive(Copy, Clone, PartialEq, Eq, Debug)]
#[repr(i64)]
pub enum Unsupported {
    /// `send`/`sendto`/`sendmsg` with `MSG_OOB` (urgent data: not yet).
    SendOob = 1,
    /// `recv`/`recvfrom`/`recvmsg` with `MSG_OOB`.
    RecvOob = 2,
    /// `sendto`/`sendmsg` with `MSG_FASTOPEN` (TCP Fast Open: not in synack).
    FastOpen = 3,
}

impl Unsupported {
    pub fn from_i64(v: i64) -> Option<Unsupported> {
        Some(match v {
            1 => Unsupported::SendOob,
            2 => Unsupported::RecvOob,
            3 => Unsupported::FastOpen,
            _ => return None,
        })
    }

    /// The call as the trace line names it.
    pub fn call(self) -> &'static str {
        match self {
            Unsupported::SendOob => "send(MSG_OOB)",
            Unsupported::RecvOob => "recv(MSG_OOB)",
            Unsupported::FastOpen => "sendto(MSG_FASTOPEN)",
        }
    }
}

impl Op {
    pub fn from_u16(v: u16) -> Option<Op> {
        Some(match v {
            1 => Op::Socket,
            2 => Op::Bind,
            3 => Op::Listen,
            4 => Op::Accept,
            5 => Op::Connect,
            6 => Op::GetSockName,
            7 => Op::GetPeerName,
            8 => Op::SetSockOpt,
            9 => Op::GetSockOpt,
            10 => Op::Whois,
            11 => Op::PendingError,
            12 => Op::Unsupported,
            _ => return None,
        })
    }
}

/// A request: the library to `synack up`.
#[derive(Copy, Clone, PartialEq, Eq, Debug, Default)]
pub struct Req {
    pub op: u16,
    /// The socket (the inode of the program's end); 0 for `Socket`.
    pub ino: u64,
    /// An IPv4 address and port, in host order.
    pub addr: [u8; 4],
    pub port: u16,
    pub arg0: i64,
    pub arg1: i64,
    pub arg2: i64,
}

impl Req {
    pub fn new(op: Op, ino: u64) -> Req {
        Req { op: op as u16, ino, ..Req::default() }
    }

    pub fn encode(&self) -> [u8; REQ_LEN] {
        let mut b = [0u8; REQ_LEN];
        b[0..2].copy_from_slice(&VERSION.to_le_bytes());
        b[2..4].copy_from_slice(&self.op.to_le_bytes());
        b[8..16].copy_from_slice(&self.ino.to_le_bytes());
        b[16..20].copy_from_slice(&self.addr);
        b[20..22].copy_from_slice(&self.port.to_le_bytes());
        b[24..32].copy_from_slice(&self.arg0.to_le_bytes());
        b[32..40].copy_from_slice(&self.arg1.to_le_bytes());
        b[40..48].copy_from_slice(&self.arg2.to_le_bytes());
        b
    }

    /// `None` for a record of the wrong size or version.
    pub fn decode(b: &[u8]) -> Option<Req> {
        if b.len() != REQ_LEN || u16::from_le_bytes([b[0], b[1]]) != VERSION {
            return None;
        }
        let u64_at = |i: usize| u64::from_le_bytes(b[i..i + 8].try_into().expect("8 bytes"));
        Some(Req {
            op: u16::from_le_bytes([b[2], b[3]]),
            ino: u64_at(8),
            addr: [b[16], b[17], b[18], b[19]],
            port: u16::from_le_bytes([b[20], b[21]]),
            arg0: u64_at(24) as i64,
            arg1: u64_at(32) as i64,
            arg2: u64_at(40) as i64,
        })
    }
}

/// A reply: `synack up` to the library.
#[derive(Copy, Clone, PartialEq, Eq, Debug, Default)]
pub struct Reply {
    pub op: u16,
    /// 0, or the errno the call fails with.
    pub errno: i32,
    /// The call's value (an option's value for `GetSockOpt`).
    pub ret: i64,
    /// The new socket's inode, when an fd comes with the reply.
    pub ino: u64,
    pub addr: [u8; 4],
    pub port: u16,
}

impl Reply {
    pub fn encode(&self) -> [u8; REPLY_LEN] {
        let mut b = [0u8; REPLY_LEN];
        b[0..2].copy_from_slice(&VERSION.to_le_bytes());
        b[2..4].copy_from_slice(&self.op.to_le_bytes());
        b[4..8].copy_from_slice(&self.errno.to_le_bytes());
        b[8..16].copy_from_slice(&self.ret.to_le_bytes());
        b[16..24].copy_from_slice(&self.ino.to_le_bytes());
        b[24..28].copy_from_slice(&self.addr);
        b[28..30].copy_from_slice(&self.port.to_le_bytes());
        b
    }

    pub fn decode(b: &[u8]) -> Option<Reply> {
        if b.len() != REPLY_LEN || u16::from_le_bytes([b[0], b[1]]) != VERSION {
            return None;
        }
        Some(Reply {
            op: u16::from_le_bytes([b[2], b[3]]),
            errno: i32::from_le_bytes(b[4..8].try_into().expect("4 bytes")),
            ret: i64::from_le_bytes(b[8..16].try_into().expect("8 bytes")),
            ino: u64::from_le_bytes(b[16..24].try_into().expect("8 bytes")),
            addr: [b[24], b[25], b[26], b[27]],
            port: u16::from_le_bytes([b[28], b[29]]),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_and_refuse_other_versions() {
        let r = Req { op: Op::Connect as u16, ino: 77, addr: [10, 0, 0, 1], port: 8000, arg0: 4608, arg1: -1, arg2: 3 };
        let b = r.encode();
        assert_eq!(Req::decode(&b), Some(r));
        let mut old = b;
        old[0] = 0;
        assert_eq!(Req::decode(&old), None);
        assert_eq!(Req::decode(&b[..40]), None);
        let p = Reply { op: 4, errno: 11, ret: -1, ino: 9, addr: [1, 2, 3, 4], port: 5 };
        assert_eq!(Reply::decode(&p.encode()), Some(p));
        assert_eq!(Op::from_u16(Op::Whois as u16), Some(Op::Whois));
        assert_eq!(Op::from_u16(0), None);
    }
}
