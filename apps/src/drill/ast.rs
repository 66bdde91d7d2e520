//! What a packetdrill script says, as the parser (`parse.rs`) hands it to
//! the runner (`run.rs`): a list of header options and a list of timed
//! events. Names follow packetdrill's own grammar (`parser.y`), so a reader
//! of its paper finds the same words: event time, packet spec, syscall spec,
//! command (a backtick shell line), code (a `%{ }%` block).

/// Microseconds of script time (packetdrill's `s64 usecs`).
pub type Micros = i64;

/// A whole script.
#[derive(Clone, Debug, PartialEq)]
pub struct Script {
    /// `--name=value` (or bare `--name`) lines before the first event, in order.
    pub options: Vec<ScriptOption>,
    pub events: Vec<Event>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ScriptOption {
    pub line: usize,
    /// Without the leading `--`.
    pub name: String,
    pub value: Option<String>,
}

/// One line of the script (an event may span lines: a `%{ }%` block).
#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    /// 1-based line of the event's time.
    pub line: usize,
    pub time: EventTime,
    pub action: Action,
}

/// When an event happens (packetdrill's `event_time`).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum EventTime {
    /// `1.5`: from the start of the script.
    Absolute(Micros),
    /// `+0.1`: from the end of the previous event.
    Relative(Micros),
    /// `*`: any time (outbound packets only).
    Any,
    /// `0.1~0.2`: somewhere in an absolute range (outbound packets only).
    AbsoluteRange(Micros, Micros),
    /// `+0.1~+0.2`: somewhere in a relative range (outbound packets only).
    RelativeRange(Micros, Micros),
}

#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    Packet(PacketSpec),
    Syscall(SyscallSpec),
    /// A backtick shell line, without the backticks.
    Command(String),
    /// The text between `%{` and `}%`.
    Code(String),
}

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Direction {
    /// `<`: the script injects it into the stack.
    Inbound,
    /// `>`: the stack must send it.
    Outbound,
}

#[derive(Clone, Debug, PartialEq)]
pub struct PacketSpec {
    pub direction: Direction,
    pub body: PacketBody,
}

#[derive(Clone, Debug, PartialEq)]
pub enum PacketBody {
    Tcp(TcpSpec),
    /// `udp (LEN)`
    Udp {
        len: u16,
    },
    Icmp(IcmpSpec),
}

/// TCP control bits as a script writes them: `S`, `S.`, `P.`, `F.`, `R`,
/// `R.`, `.`, `-` (none), and `U`, `E`, `W` (URG, ECE, CWR).
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct TcpFlagSpec {
    pub syn: bool,
    pub fin: bool,
    pub rst: bool,
    pub psh: bool,
    pub ack: bool,
    pub urg: bool,
    pub ece: bool,
    pub cwr: bool,
}

/// `S. 0:0(0) ack 1 win 65535 urg 0 <mss 1460,...>`
#[derive(Clone, Debug, PartialEq)]
pub struct TcpSpec {
    pub flags: TcpFlagSpec,
    /// `start:end(len)`: the parser checks `end == start + len`.
    pub seq: u32,
    pub len: u16,
    /// `ack N` (None when absent).
    pub ack: Option<u32>,
    /// `win N` (None: an outbound window is not checked).
    pub win: Option<u16>,
    /// `urg N`
    pub urg: Option<u16>,
    pub options: TcpOptionsSpec,
}

#[derive(Clone, Debug, PartialEq)]
pub enum TcpOptionsSpec {
    /// No `<…>`: the segment has no options (checked on outbound packets).
    Absent,
    /// `<...>`: outbound options not checked (outbound only).
    Any,
    List(Vec<TcpOptionSpec>),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TcpOptionSpec {
    Eol,
    Nop,
    Mss(u16),
    WScale(u8),
    SackOk,
    /// `sack 1:1001 2001:3001`
    Sack(Vec<(u32, u32)>),
    /// `TS val 100 ecr 0`
    Timestamp {
        val: u32,
        ecr: u32,
    },
}

/// `icmp unreachable frag_needed mtu 1200 [1:1461(1460)]` and friends.
#[derive(Clone, Debug, PartialEq)]
pub struct IcmpSpec {
    /// `unreachable`, `time_exceeded`, `echo_request`, … (packetdrill's names).
    pub icmp_type: String,
    /// `frag_needed`, `port_unreachable`, … (None when absent).
    pub code: Option<String>,
    /// `mtu N` for frag_needed.
    pub mtu: Option<u16>,
    /// The quoted TCP segment, `[seq:end(len)]`, if given.
    pub quoted_seq: Option<(u32, u16)>,
}

/// `+0...0.2 read(4, ..., 1000) = 1000 // note`
#[derive(Clone, Debug, PartialEq)]
pub struct SyscallSpec {
    /// `...END`: the call is expected to block and return at END (same
    /// kind of time as the event's: relative when the event's is).
    pub end: Option<Micros>,
    pub name: String,
    pub args: Vec<Expr>,
    /// What it returns (`...` allowed).
    pub result: Expr,
    /// `EAGAIN` in `= -1 EAGAIN (Resource temporarily unavailable)`.
    pub errno: Option<String>,
    /// The text in parentheses after the errno.
    pub note: Option<String>,
}

/// An argument or a result (packetdrill's `expression`).
#[derive(Clone, Debug, PartialEq)]
pub enum Expr {
    /// `...`: anything (an argument the runner fills in, a result not checked).
    Ellipsis,
    Int(i64),
    /// A symbolic constant: `AF_INET`, `SOCK_STREAM`, `EPOLLIN`, `O_NONBLOCK`, …
    Word(String),
    /// `"reno"`
    Str(String),
    /// `A|B|C`
    BitOr(Vec<Expr>),
    /// `[1]`, `[{fd=3, events=POLLIN}]`, `[]`
    List(Vec<Expr>),
    /// `{l_onoff=1, l_linger=0}`, `{fd=4, events=POLLIN, revents=0}`; also
    /// positional fields `{1, 0}` (name None).
    Struct(Vec<(Option<String>, Expr)>),
    /// `htons(8080)`, `inet_addr("192.0.2.1")`
    Call(String, Vec<Expr>),
}
