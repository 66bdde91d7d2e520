//! The packetdrill script language, read into the `ast.rs` shape the runner
//! takes: header options, then timed events (packets, system calls,
//! backtick commands, `%{ }%` code).
//!
//! Read first: packetdrill's README and its paper (Cardwell et al.,
//! "packetdrill: Scriptable Network Stack Testing, from Sockets to
//! Packets", USENIX ATC 2013). The grammar is packetdrill's (`parser.y`),
//! written anew as a recursive descent over the tokens of `lexer.rs`:
//!
//! ```text
//! script   = option* [command] event* [command]
//! option   = --name [= value]
//! event    = time action            (a %{ }% block may go without a time)
//! time     = 1.5 | +0.1 | * | 1~2 | +1~+2
//! action   = packet | syscall | `command` | %{ code }%
//! packet   = (< | >) tcp | udp (LEN) | icmp TYPE [CODE] [mtu N] [[seq:end(len)]]
//! tcp      = FLAGS seq:end(len) [ack N] [win N] [urg N] [<options> | <...>]
//! syscall  = [...END] name(expr, …) = expr [ERRNO] [(note)]
//! expr     = ... | 12 | -1 | 0x1f | WORD | "str" | a|b | [expr, …]
//!          | {name=expr, expr, …} | name(expr, …)
//! ```
//!
//! What this reads differently from packetdrill, and why:
//! - The command before the first event (packetdrill's init command) becomes
//!   an event at absolute time 0, and the one after the last event (its
//!   cleanup command) an event at `+0`: the runner runs them in order.
//! - A `%{ }%` block without a time happens at `+0`.
//! - `ack`, `win` and `urg` may come in any order (each once).
//! - A system call's note (`(Resource temporarily unavailable)`) is kept
//!   as written, with or without an errno before it.
//! - What synack's runner cannot use is an error that names it
//!   (`unsupported: …`): IP fields such as `[ect0]` or `(tos 0x1)`, ports,
//!   addresses and encapsulation on a packet line; the TCP options `md5`,
//!   `FO`, `FOEXP`, `ECN`; AccECN flags; `"…"...` prefix strings.
//!
//! It never panics, whatever the text: expressions nest at most
//! [`MAX_DEPTH`] deep and every loop takes a token per round.

use super::ast::{
    Action, Direction, Event, EventTime, Expr, IcmpSpec, Micros, PacketBody, PacketSpec, Script, ScriptOption,
    SyscallSpec, TcpFlagSpec, TcpOptionSpec, TcpOptionsSpec, TcpSpec,
};
use super::lexer::{tokenize, LexError, Token, TokenKind};
use std::fmt;

/// How deep `[ { [ … ] } ]` and `f(g(…))` may nest.
pub const MAX_DEPTH: usize = 32;

/// Where and why a script does not parse.
#[derive(Debug, Clone, PartialEq)]
pub struct ParseError {
    /// 1-based line of the token where the problem was found.
    pub line: usize,
    pub message: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

impl std::error::Error for ParseError {}

impl From<LexError> for ParseError {
    fn from(e: LexError) -> ParseError {
        ParseError { line: e.line, message: e.message }
    }
}

type Result<T> = std::result::Result<T, ParseError>;

/// Reads a whole script.
pub fn parse(text: &str) -> Result<Script> {
    let tokens = tokenize(text)?;
    Parser { text, tokens, pos: 0 }.script()
}

struct Parser<'a> {
    text: &'a str,
    tokens: Vec<Token>,
    pos: usize,
}

impl Parser<'_> {
    // --- Moving over the tokens ---------------------------------------

    fn peek(&self) -> Option<&TokenKind> {
        self.tokens.get(self.pos).map(|t| &t.kind)
    }

    fn peek_at(&self, ahead: usize) -> Option<&TokenKind> {
        self.tokens.get(self.pos + ahead).map(|t| &t.kind)
    }

    fn bump(&mut self) -> Option<TokenKind> {
        let kind = self.tokens.get(self.pos).map(|t| t.kind.clone());
        self.pos += usize::from(kind.is_some());
        kind
    }

    /// The line of the next token (of the last one at the end).
    fn line(&self) -> usize {
        self.tokens.get(self.pos).or(self.tokens.last()).map_or(1, |t| t.line)
    }

    fn is_punct(&self, c: char) -> bool {
        self.peek() == Some(&TokenKind::Punct(c))
    }

    fn is_word(&self, w: &str) -> bool {
        matches!(self.peek(), Some(TokenKind::Word(s)) if s == w)
    }

    fn eat_punct(&mut self, c: char) -> bool {
        let found = self.is_punct(c);
        self.pos += usize::from(found);
        found
    }

    /// How the next token reads in a message: `` `S.` `` or "the end of the script".
    fn found(&self) -> String {
        match self.tokens.get(self.pos) {
            None => "the end of the script".to_string(),
            Some(t) => {
                let s = self.text.get(t.start..t.end).unwrap_or("?");
                let first_line = s.lines().next().unwrap_or("");
                let shown: String = first_line.chars().take(40).collect();
                let cut = if shown.len() < s.len() { "…" } else { "" };
                format!("`{shown}{cut}`")
            }
        }
    }

    /// The text from the next token through the first `close` within a
    /// few tokens (`[ect0]`), for a message; the next token alone otherwise.
    fn text_through(&self, close: char) -> String {
        let Some(first) = self.tokens.get(self.pos) else { return String::new() };
        let mut rest = self.tokens.iter().skip(self.pos).take(8);
        let end = rest.find(|t| t.kind == TokenKind::Punct(close)).map_or(first.end, |t| t.end);
        let text = self.text.get(first.start..end).unwrap_or("");
        text.split_whitespace().collect::<Vec<_>>().join(" ")
    }

    fn error<T>(&self, message: impl Into<String>) -> Result<T> {
        Err(ParseError { line: self.line(), message: message.into() })
    }

    fn expected<T>(&self, what: &str) -> Result<T> {
        self.error(format!("expected {what}, found {}", self.found()))
    }

    fn unsupported<T>(&self, what: &str) -> Result<T> {
        self.error(format!("unsupported: {what}"))
    }

    fn expect_punct(&mut self, c: char, context: &str) -> Result<()> {
        if self.eat_punct(c) {
            Ok(())
        } else {
            self.expected(&format!("`{c}` {context}"))
        }
    }

    /// An integer that must fit `T` (`u32`, `u16`, `u8`).
    fn int_in<T: TryFrom<i64>>(&mut self, what: &str) -> Result<T> {
        match self.peek() {
            Some(&TokenKind::Int(n)) => match T::try_from(n) {
                Ok(v) => {
                    self.pos += 1;
                    Ok(v)
                }
                Err(_) => self.error(format!("{what} out of range: {n}")),
            },
            _ => self.expected(&format!("an integer ({what})")),
        }
    }

    // --- The script --------------------------------------------------

    fn script(mut self) -> Result<Script> {
        let mut options = Vec::new();
        while let Some(TokenKind::OptionName(_)) = self.peek() {
            options.push(self.option()?);
        }
        let mut events = Vec::new();
        if let Some(TokenKind::Command(cmd)) = self.peek() {
            let event = Event { line: self.line(), time: EventTime::Absolute(0), action: Action::Command(cmd.clone()) };
            self.pos += 1;
            events.push(event);
        }
        while let Some(kind) = self.peek() {
            let line = self.line();
            match kind {
                TokenKind::OptionName(name) => {
                    return self.error(format!("option `--{name}` after the first event (options go at the top)"));
                }
                TokenKind::Command(cmd) if self.pos + 1 == self.tokens.len() => {
                    let action = Action::Command(cmd.clone());
                    self.pos += 1;
                    events.push(Event { line, time: EventTime::Relative(0), action });
                }
                TokenKind::Command(_) => {
                    return self.error(
                        "a command needs a time here (`+0` before it): only the first and the last may go without",
                    );
                }
                TokenKind::Code(code) => {
                    let action = Action::Code(code.clone());
                    self.pos += 1;
                    events.push(Event { line, time: EventTime::Relative(0), action });
                }
                _ => events.push(self.event()?),
            }
        }
        if events.is_empty() {
            return self.error("the script has no events");
        }
        Ok(Script { options, events })
    }

    /// `--name`, `--name=value`; value: an integer, a word, a "string", an
    /// address, or `word=word`, `word="string"`, ``word=`command` ``.
    fn option(&mut self) -> Result<ScriptOption> {
        let line = self.line();
        let Some(TokenKind::OptionName(name)) = self.bump() else { return self.expected("an option") };
        if !self.eat_punct('=') {
            return Ok(ScriptOption { line, name, value: None });
        }
        let Some(token) = self.tokens.get(self.pos).filter(|t| t.line == line).cloned() else {
            return Err(ParseError { line, message: format!("expected a value after `--{name}=` on its line") });
        };
        let value = match token.kind {
            TokenKind::Word(lhs) if self.peek_at(1) == Some(&TokenKind::Punct('=')) => {
                self.pos += 2;
                match self.peek() {
                    Some(TokenKind::Word(rhs)) => format!("{lhs}={rhs}"),
                    Some(TokenKind::Str(rhs)) => format!("{lhs}=\"{rhs}\""),
                    Some(TokenKind::Command(rhs)) => format!("{lhs}=`{rhs}`"),
                    _ => return self.expected(&format!("a word, a \"string\" or a `command` after `{lhs}=`")),
                }
            }
            TokenKind::Str(s) => s,
            TokenKind::Int(_) | TokenKind::Float(_) | TokenKind::Word(_) | TokenKind::Ipv4(_) | TokenKind::Ipv6(_) => {
                self.text.get(token.start..token.end).unwrap_or("").to_string()
            }
            _ => return self.expected(&format!("a value after `--{name}=`")),
        };
        self.pos += 1;
        Ok(ScriptOption { line, name, value: Some(value) })
    }

    fn event(&mut self) -> Result<Event> {
        let line = self.line();
        let time = self.event_time()?;
        let action_line = self.line();
        let action = self.action()?;
        let outbound_packet = matches!(&action, Action::Packet(p) if p.direction == Direction::Outbound);
        if !outbound_packet {
            let rule = match time {
                EventTime::Any => Some("event time `*` can only be used with outbound packets"),
                EventTime::AbsoluteRange(..) | EventTime::RelativeRange(..) => {
                    Some("a time range (`a~b`) can only be used with outbound packets")
                }
                _ => None,
            };
            if let Some(message) = rule {
                return Err(ParseError { line: action_line, message: message.to_string() });
            }
        }
        Ok(Event { line, time, action })
    }

    // --- Times -------------------------------------------------------

    fn event_time(&mut self) -> Result<EventTime> {
        if self.eat_punct('*') {
            return Ok(EventTime::Any);
        }
        if self.eat_punct('+') {
            let start = self.time()?;
            if !self.eat_punct('~') {
                return Ok(EventTime::Relative(start));
            }
            self.expect_punct('+', "after `~` (a relative range is `+a~+b`)")?;
            let end = self.time()?;
            return self.range(start, end).map(|(a, b)| EventTime::RelativeRange(a, b));
        }
        if !matches!(self.peek(), Some(TokenKind::Int(_) | TokenKind::Float(_))) {
            return self.expected("an event time (`0`, `1.5`, `+0.1`, `*`)");
        }
        let start = self.time()?;
        if !self.eat_punct('~') {
            return Ok(EventTime::Absolute(start));
        }
        if self.is_punct('+') {
            return self.error("an absolute range is `a~b`, without `+`");
        }
        let end = self.time()?;
        self.range(start, end).map(|(a, b)| EventTime::AbsoluteRange(a, b))
    }

    fn range(&self, start: Micros, end: Micros) -> Result<(Micros, Micros)> {
        if end < start {
            return self.error("time range is backwards");
        }
        Ok((start, end))
    }

    /// Seconds (`1`, `0.25`, `.1`) to microseconds, as packetdrill
    /// rounds them: `(seconds * 1e6) as i64`.
    fn time(&mut self) -> Result<Micros> {
        let micros = match self.peek() {
            Some(&TokenKind::Int(secs)) if secs < 0 => return self.error("negative time"),
            Some(&TokenKind::Int(secs)) => secs.checked_mul(1_000_000),
            Some(&TokenKind::Float(secs)) if secs < 0.0 => return self.error("negative time"),
            Some(&TokenKind::Float(secs)) => {
                let us = secs * 1e6;
                (us.is_finite() && us < i64::MAX as f64).then_some(us as i64)
            }
            _ => return self.expected("a time in seconds"),
        };
        let Some(micros) = micros else { return self.error("time out of range") };
        self.pos += 1;
        Ok(micros)
    }

    // --- Actions -----------------------------------------------------

    fn action(&mut self) -> Result<Action> {
        match self.peek() {
            Some(TokenKind::Punct('<')) => self.packet(Direction::Inbound).map(Action::Packet),
            Some(TokenKind::Punct('>')) => self.packet(Direction::Outbound).map(Action::Packet),
            Some(TokenKind::Word(_) | TokenKind::Ellipsis) => self.syscall().map(Action::Syscall),
            Some(TokenKind::Command(cmd)) => {
                let cmd = cmd.clone();
                self.pos += 1;
                Ok(Action::Command(cmd))
            }
            Some(TokenKind::Code(code)) => {
                let code = code.clone();
                self.pos += 1;
                Ok(Action::Code(code))
            }
            _ => self.expected("a packet (`<`, `>`), a system call, a `command` or a %{ code }% block after the time"),
        }
    }

    // --- Packets -----------------------------------------------------

    fn packet(&mut self, direction: Direction) -> Result<PacketSpec> {
        self.pos += 1; // `<` or `>`
        let lead = self.peek().cloned();
        let body = match &lead {
            Some(TokenKind::Word(w)) => match w.as_str() {
                "udp" => self.udp()?,
                "icmp" => self.icmp()?,
                "ipv4" | "ipv6" => return self.unsupported("an IP header on the packet line (`ipv4 A > B:`)"),
                "gre" | "GREv0" => return self.unsupported("GRE encapsulation"),
                "mpls" => return self.unsupported("MPLS labels"),
                "encap" => return self.unsupported("PSP encapsulation (`encap psp`)"),
                _ => PacketBody::Tcp(self.tcp(direction)?),
            },
            Some(TokenKind::Punct(open @ ('[' | '('))) => {
                let close = if *open == '[' { ']' } else { ')' };
                return self.unsupported(&format!(
                    "IP header fields `{}` (ECN marks such as `[ect0]`, `tos`, `flowlabel`, `ttl`)",
                    self.text_through(close)
                ));
            }
            Some(TokenKind::Int(_)) if self.peek_at(1) == Some(&TokenKind::Punct('>')) => {
                return self.unsupported("ports on the packet line (`8080 > 80`)");
            }
            Some(TokenKind::Ipv4(_) | TokenKind::Ipv6(_)) => {
                return self.unsupported(&format!("an address on the packet line ({})", self.found()));
            }
            _ => PacketBody::Tcp(self.tcp(direction)?),
        };
        Ok(PacketSpec { direction, body })
    }

    /// `udp (LEN)`
    fn udp(&mut self) -> Result<PacketBody> {
        self.pos += 1;
        if matches!(self.peek(), Some(TokenKind::Int(_))) {
            return self.unsupported("ports on the packet line (`udp 8080 > 80`)");
        }
        self.expect_punct('(', "after `udp` (`udp (LEN)`)")?;
        let len = self.int_in("UDP payload size")?;
        self.expect_punct(')', "after the UDP payload size")?;
        Ok(PacketBody::Udp { len })
    }

    /// `icmp TYPE [CODE] [mtu N] [[FLAGS seq:end(len)]]`
    fn icmp(&mut self) -> Result<PacketBody> {
        self.pos += 1;
        let Some(TokenKind::Word(icmp_type)) = self.peek().cloned() else {
            return self.expected("an ICMP type (`unreachable`, `echo_reply`, …)");
        };
        self.pos += 1;
        let code = match self.peek() {
            Some(TokenKind::Word(w)) if w != "mtu" && w != "id" => {
                let w = w.clone();
                self.pos += 1;
                Some(w)
            }
            _ => None,
        };
        let mut mtu = None;
        if self.is_word("mtu") {
            self.pos += 1;
            mtu = Some(self.int_in("ICMP mtu")?);
        }
        if self.is_word("id") {
            return self.unsupported("an ICMP echo id (`id N`)");
        }
        let mut quoted_seq = None;
        if self.eat_punct('[') {
            if self.is_word("udp") || self.is_word("raw") {
                return self.unsupported(&format!("a quoted {} datagram in an ICMP message", self.found()));
            }
            if !matches!(self.peek(), Some(TokenKind::Int(_))) {
                self.tcp_flags()?; // recorded by packetdrill only as a TCP segment: ignored
            }
            let (seq, len) = self.seq()?;
            self.expect_punct(']', "after the quoted segment")?;
            quoted_seq = Some((seq, len));
        }
        Ok(PacketBody::Icmp(IcmpSpec { icmp_type, code, mtu, quoted_seq }))
    }

    fn tcp(&mut self, direction: Direction) -> Result<TcpSpec> {
        let flags = self.tcp_flags()?;
        let (seq, len) = self.seq()?;
        let (mut ack, mut win, mut urg) = (None, None, None);
        loop {
            let key = match self.peek() {
                Some(TokenKind::Word(w)) if matches!(w.as_str(), "ack" | "win" | "urg") => w.clone(),
                _ => break,
            };
            let given = match key.as_str() {
                "ack" => ack.is_some(),
                "win" => win.is_some(),
                _ => urg.is_some(),
            };
            if given {
                return self.error(format!("`{key}` given twice"));
            }
            self.pos += 1;
            match key.as_str() {
                "ack" => ack = Some(self.int_in("TCP ack sequence number")?),
                "win" => win = Some(self.int_in("TCP window")?),
                _ => urg = Some(self.int_in("TCP urgent pointer")?),
            }
        }
        let options = if self.is_punct('<') { self.tcp_options(direction)? } else { TcpOptionsSpec::Absent };
        Ok(TcpSpec { flags, seq, len, ack, win, urg, options })
    }

    /// `S`, `S.`, `P.`, `.`, `-`, `FP.`, `SEW`: the letters S F R P U E W
    /// (each once), then `.` for ACK.
    fn tcp_flags(&mut self) -> Result<TcpFlagSpec> {
        let mut flags = TcpFlagSpec::default();
        if self.eat_punct('.') {
            flags.ack = true;
            return Ok(flags);
        }
        if self.eat_punct('-') {
            return Ok(flags);
        }
        let Some(TokenKind::Word(letters)) = self.peek().cloned() else {
            return self.expected("TCP flags (`S`, `S.`, `.`, `P.`, `F.`, `R`, `-`, …) or `udp`/`icmp`");
        };
        for c in letters.chars() {
            let flag = match c {
                'S' => &mut flags.syn,
                'F' => &mut flags.fin,
                'R' => &mut flags.rst,
                'P' => &mut flags.psh,
                'U' => &mut flags.urg,
                'E' => &mut flags.ece,
                'W' => &mut flags.cwr,
                'A' | '0'..='7' => return self.unsupported(&format!("AccECN flags (`{c}` in `{letters}`)")),
                _ => {
                    return self.error(format!(
                    "bad TCP flags `{letters}`: use the letters S F R P U E W, then `.` for ACK (`S.`, `P.`, `.`, `-`)"
                ))
                }
            };
            if *flag {
                return self.error(format!("bad TCP flags `{letters}`: `{c}` twice"));
            }
            *flag = true;
        }
        self.pos += 1;
        if self.tokens.get(self.pos).is_some_and(|t| matches!(t.kind, TokenKind::Float(_)) && !t.spaced) {
            return self.unsupported("AccECN flags (a digit after the `.`)");
        }
        flags.ack = self.eat_punct('.');
        Ok(flags)
    }

    /// `start:end(len)`, with `end == start + len`.
    fn seq(&mut self) -> Result<(u32, u16)> {
        let start: u32 = self.int_in("TCP start sequence number")?;
        self.expect_punct(':', "in `start:end(len)`")?;
        let end: u32 = self.int_in("TCP end sequence number")?;
        self.expect_punct('(', "in `start:end(len)`")?;
        let len: u16 = self.int_in("TCP payload size")?;
        let line = self.line();
        self.expect_punct(')', "in `start:end(len)`")?;
        if u64::from(end) != u64::from(start) + u64::from(len) {
            return Err(ParseError {
                line,
                message: format!("inconsistent TCP sequence numbers and payload size: {start}:{end}({len}), {start} + {len} != {end}"),
            });
        }
        Ok((start, len))
    }

    /// `<...>` or `<opt, opt, …>`.
    fn tcp_options(&mut self, direction: Direction) -> Result<TcpOptionsSpec> {
        let line = self.line();
        self.pos += 1; // `<`
        if self.peek() == Some(&TokenKind::Ellipsis) {
            if direction != Direction::Outbound {
                return Err(ParseError {
                    line,
                    message: "<...> for TCP options can only be used with outbound packets".to_string(),
                });
            }
            self.pos += 1;
            self.expect_punct('>', "after `<...`")?;
            return Ok(TcpOptionsSpec::Any);
        }
        let mut options = vec![self.tcp_option()?];
        while self.eat_punct(',') {
            options.push(self.tcp_option()?);
        }
        self.expect_punct('>', "or `,` in the TCP options")?;
        Ok(TcpOptionsSpec::List(options))
    }

    fn tcp_option(&mut self) -> Result<TcpOptionSpec> {
        let Some(TokenKind::Word(name)) = self.peek().cloned() else {
            return self
                .expected("a TCP option (`nop`, `mss 1460`, `wscale 7`, `sackOK`, `sack a:b`, `TS val N ecr N`)");
        };
        let option = match name.as_str() {
            "nop" => TcpOptionSpec::Nop,
            "eol" => TcpOptionSpec::Eol,
            "sackOK" => TcpOptionSpec::SackOk,
            "mss" | "wscale" | "sack" | "TS" => {
                self.pos += 1;
                return match name.as_str() {
                    "mss" => Ok(TcpOptionSpec::Mss(self.int_in("mss value")?)),
                    "wscale" => Ok(TcpOptionSpec::WScale(self.int_in("window scale shift count")?)),
                    "sack" => self.sack_blocks(),
                    _ => self.timestamp(),
                };
            }
            "md5" => return self.unsupported("the TCP option `md5` (RFC 2385 signatures)"),
            "FO" | "FOEXP" => return self.unsupported(&format!("the TCP option `{name}` (TCP Fast Open)")),
            "ECN" => return self.unsupported("the TCP option `ECN` (AccECN)"),
            _ => {
                return self
                    .error(format!("unknown TCP option `{name}` (known: nop, eol, mss, wscale, sackOK, sack, TS)"))
            }
        };
        self.pos += 1;
        Ok(option)
    }

    /// `sack a:b c:d …`, one block or more.
    fn sack_blocks(&mut self) -> Result<TcpOptionSpec> {
        let mut blocks = Vec::new();
        loop {
            let left = self.int_in("TCP SACK left edge")?;
            self.expect_punct(':', "in a SACK block `left:right`")?;
            let right = self.int_in("TCP SACK right edge")?;
            blocks.push((left, right));
            if !matches!(self.peek(), Some(TokenKind::Int(_))) {
                return Ok(TcpOptionSpec::Sack(blocks));
            }
        }
    }

    /// `TS val N ecr N`
    fn timestamp(&mut self) -> Result<TcpOptionSpec> {
        if !self.is_word("val") {
            return self.expected("`val` in `TS val N ecr N`");
        }
        self.pos += 1;
        let val = self.int_in("TS val")?;
        if !self.is_word("ecr") {
            return self.expected("`ecr` in `TS val N ecr N`");
        }
        self.pos += 1;
        let ecr = self.int_in("TS ecr")?;
        Ok(TcpOptionSpec::Timestamp { val, ecr })
    }

    // --- System calls ------------------------------------------------

    /// `[...END] name(args) = result [ERRNO] [(note)]`
    fn syscall(&mut self) -> Result<SyscallSpec> {
        let mut end = None;
        if self.peek() == Some(&TokenKind::Ellipsis) {
            self.pos += 1;
            if self.is_punct('+') {
                return self.error("the end time after `...` is a plain time, without `+`");
            }
            end = Some(self.time()?);
        }
        let Some(TokenKind::Word(name)) = self.peek().cloned() else {
            return self.expected("a system call name after `...END`");
        };
        self.pos += 1;
        if !self.is_punct('(') {
            return self.expected(&format!("`(` after `{name}` (a system call is `{name}(args) = result`)"));
        }
        let args = self.expr_list('(', ')', 0)?;
        self.expect_punct('=', &format!("after `{name}(…)` (a system call is `{name}(args) = result`)"))?;
        let result = self.result()?;
        let errno = match self.peek() {
            Some(TokenKind::Word(w)) => {
                let w = w.clone();
                self.pos += 1;
                Some(w)
            }
            _ => None,
        };
        let note = if self.is_punct('(') { Some(self.note()?) } else { None };
        Ok(SyscallSpec { end, name, args, result, errno, note })
    }

    /// The result: an expression, where a word with a space before `(` is
    /// a word then a note (`= EAGAIN (…)` is not a call).
    fn result(&mut self) -> Result<Expr> {
        if let (Some(TokenKind::Word(w)), Some(next)) = (self.peek(), self.tokens.get(self.pos + 1)) {
            if next.kind == TokenKind::Punct('(') && next.spaced {
                let w = w.clone();
                self.pos += 1;
                return Ok(Expr::Word(w));
            }
        }
        self.expr(0)
    }

    /// `(words …)`: the text between the parentheses, spaces collapsed.
    fn note(&mut self) -> Result<String> {
        let line = self.line();
        let open_end = self.tokens.get(self.pos).map_or(0, |t| t.end);
        let mut rest = self.tokens.iter().enumerate().skip(self.pos);
        let Some((close, close_token)) = rest.find(|(_, t)| t.kind == TokenKind::Punct(')')) else {
            return Err(ParseError { line, message: "unterminated note: `(` without `)`".to_string() });
        };
        let inner = self.text.get(open_end..close_token.start).unwrap_or("");
        self.pos = close + 1;
        Ok(inner.split_whitespace().collect::<Vec<_>>().join(" "))
    }

    // --- Expressions -------------------------------------------------

    /// `a`, or `a|b|c`.
    fn expr(&mut self, depth: usize) -> Result<Expr> {
        if depth >= MAX_DEPTH {
            return self.error(format!("expression nested more than {MAX_DEPTH} deep"));
        }
        let first = self.primary(depth)?;
        if !self.is_punct('|') {
            return Ok(first);
        }
        let mut terms = vec![first];
        while self.eat_punct('|') {
            terms.push(self.primary(depth)?);
        }
        Ok(Expr::BitOr(terms))
    }

    fn primary(&mut self, depth: usize) -> Result<Expr> {
        let Some(kind) = self.peek().cloned() else { return self.expected("an expression") };
        match kind {
            TokenKind::Ellipsis => {
                self.pos += 1;
                Ok(Expr::Ellipsis)
            }
            TokenKind::Int(n) => {
                self.pos += 1;
                Ok(Expr::Int(n))
            }
            TokenKind::Str(first) => {
                // Adjacent strings join, as in C: "ab" "cd" is "abcd".
                let mut s = first;
                self.pos += 1;
                while let Some(TokenKind::Str(more)) = self.peek() {
                    s.push_str(more);
                    self.pos += 1;
                }
                if self.peek() == Some(&TokenKind::Ellipsis) {
                    return self.unsupported("a string prefix (`\"…\"...`)");
                }
                Ok(Expr::Str(s))
            }
            TokenKind::Word(name) => {
                self.pos += 1;
                if self.is_punct('(') {
                    let args = self.expr_list('(', ')', depth + 1)?;
                    return Ok(Expr::Call(name, args));
                }
                if self.is_punct('=') {
                    return self.error(format!("`{name}=…` is a field: it goes inside `{{ }}`"));
                }
                Ok(Expr::Word(name))
            }
            TokenKind::Punct('[') => self.expr_list('[', ']', depth + 1).map(Expr::List),
            TokenKind::Punct('{') => self.struct_fields(depth + 1).map(Expr::Struct),
            _ => self.expected("an expression (`...`, a number, a WORD, a \"string\", `[…]`, `{…}`)"),
        }
    }

    /// `open expr, expr, … close` (possibly empty).
    fn expr_list(&mut self, open: char, close: char, depth: usize) -> Result<Vec<Expr>> {
        self.expect_punct(open, "here")?;
        let mut items = Vec::new();
        if self.eat_punct(close) {
            return Ok(items);
        }
        loop {
            items.push(self.expr(depth)?);
            if self.eat_punct(close) {
                return Ok(items);
            }
            self.expect_punct(',', &format!("or `{close}` in a list"))?;
        }
    }

    /// The text of the tokens from index `start` up to the next one.
    fn source_since(&self, start: usize) -> &str {
        let (Some(first), Some(last)) = (self.tokens.get(start), self.tokens.get(self.pos.wrapping_sub(1))) else {
            return "";
        };
        self.text.get(first.start..last.end).unwrap_or("")
    }

    /// `{name=expr, expr, …}` (possibly empty); a name may carry an
    /// argument, kept as written: `{msg_iov(1)=[…]}` has the field `msg_iov(1)`.
    fn struct_fields(&mut self, depth: usize) -> Result<Vec<(Option<String>, Expr)>> {
        self.expect_punct('{', "here")?;
        let mut fields = Vec::new();
        if self.eat_punct('}') {
            return Ok(fields);
        }
        loop {
            let start = self.pos;
            let name = match (self.peek(), self.peek_at(1)) {
                (Some(TokenKind::Word(w)), Some(TokenKind::Punct('='))) => {
                    let w = w.clone();
                    self.pos += 2;
                    Some(w)
                }
                _ => None,
            };
            let value = self.expr(depth)?;
            if let (None, Expr::Call(..), true) = (&name, &value, self.is_punct('=')) {
                // `msg_iov(1)=[…]`: a field whose name carries an argument.
                let name = self.source_since(start).split_whitespace().collect::<String>();
                self.pos += 1;
                fields.push((Some(name), self.expr(depth)?));
            } else {
                fields.push((name, value));
            }
            if self.eat_punct('}') {
                return Ok(fields);
            }
            self.expect_punct(',', "or `}` in a struct")?;
        }
    }
}

#[cfg(test)]
mod tests;
