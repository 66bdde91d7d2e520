//! The telnet protocol (server side), as a pure state machine: bytes from the
//! client in, command lines and bytes to send back out. The TCP connection
//! and the shell behind it are someone else's business.
//!
//! Read first: RFC 854 (NVT, IAC commands, option negotiation), RFC 855
//! (subnegotiation), RFC 857 (ECHO), RFC 858 (SUPPRESS-GO-AHEAD), RFC 1143
//! (the Q method: how not to loop when negotiating).
//!
//! Our choices:
//! - **Line mode.** We stay in the NVT default: the client echoes locally and
//!   sends a whole line when the user presses Enter. We refuse every option
//!   the client offers or asks for (`DO x` → `WONT x`, `WILL x` → `DONT x`),
//!   which RFC 854 always allows, except SUPPRESS-GO-AHEAD which we grant:
//!   we never send GA anyway. Refusals are sent once: a `DONT`/`WONT` for an
//!   option that is already off gets no answer (RFC 854's rule against loops).
//! - Lines end with CR LF or CR NUL (RFC 854) or a bare LF (what `nc` sends).
//! - `IAC IAC` is a data byte 255; `IAC SB … IAC SE` is skipped; `IAC EC`
//!   erases a character, `IAC EL` the line, `IAC IP` cancels it, `IAC AYT`
//!   answers "[yes]". Backspace and DEL edit the line too.
//! - A line is at most `MAX_LINE` bytes; the rest is discarded.

pub const IAC: u8 = 255;
pub const DONT: u8 = 254;
pub const DO: u8 = 253;
pub const WONT: u8 = 252;
pub const WILL: u8 = 251;
pub const SB: u8 = 250;
pub const GA: u8 = 249;
pub const EL: u8 = 248;
pub const EC: u8 = 247;
pub const AYT: u8 = 246;
pub const AO: u8 = 245;
pub const IP: u8 = 244;
pub const BRK: u8 = 243;
pub const NOP: u8 = 241;
pub const SE: u8 = 240;
/// RFC 858.
pub const OPT_SGA: u8 = 3;
pub const OPT_ECHO: u8 = 1;

pub const MAX_LINE: usize = 1024;

#[derive(Copy, Clone, PartialEq, Eq, Debug)]
enum Parse {
    Data,
    /// Saw CR: LF or NUL completes the line end.
    Cr,
    Iac,
    /// Saw IAC WILL/WONT/DO/DONT: the option byte comes next.
    Negotiate(u8),
    /// Inside IAC SB … until IAC SE.
    Sub,
    SubIac,
}

/// What one call to `input` produced.
#[derive(Default, Debug, PartialEq, Eq)]
pub struct TelnetOutput {
    /// Complete lines (without the line end), in order.
    pub lines: Vec<String>,
    /// Bytes to send back (negotiation answers, "[yes]").
    pub reply: Vec<u8>,
    /// The user pressed ^C (IAC IP).
    pub interrupted: bool,
}

pub struct TelnetSession {
    state: Parse,
    line: Vec<u8>,
    overflow: bool,
    /// Options the client enabled on its side that we accepted (`WILL` → `DO`).
    him_sga: bool,
    /// Options we enabled on our side (`DO` → `WILL`).
    us_sga: bool,
}

impl Default for TelnetSession {
    fn default() -> Self {
        Self::new()
    }
}

impl TelnetSession {
    pub fn new() -> TelnetSession {
        TelnetSession { state: Parse::Data, line: Vec::new(), overflow: false, him_sga: false, us_sga: false }
    }

    /// What the server says first: we will suppress go-ahead (so clients in
    /// character mode don't wait for GA). Nothing else is negotiated.
    pub fn greeting(&mut self) -> Vec<u8> {
        self.us_sga = true;
        vec![IAC, WILL, OPT_SGA]
    }

    /// Feed bytes from the client.
    pub fn input(&mut self, bytes: &[u8]) -> TelnetOutput {
        let mut out = TelnetOutput::default();
        for &b in bytes {
            self.state = match (self.state, b) {
                (Parse::Data | Parse::Cr, IAC) => Parse::Iac,
                (Parse::Cr, b'\n' | 0) => Parse::Data,
                (Parse::Data | Parse::Cr, b'\r') => {
                    self.end_line(&mut out);
                    Parse::Cr
                }
                (Parse::Data, b'\n') => {
                    self.end_line(&mut out);
                    Parse::Data
                }
                (Parse::Data | Parse::Cr, 0x08 | 0x7f) => {
                    self.line.pop();
                    Parse::Data
                }
                (Parse::Data | Parse::Cr, b) => {
                    self.push(b);
                    Parse::Data
                }
                (Parse::Iac, IAC) => {
                    self.push(IAC);
                    Parse::Data
                }
                (Parse::Iac, c @ (WILL | WONT | DO | DONT)) => Parse::Negotiate(c),
                (Parse::Iac, SB) => Parse::Sub,
                (Parse::Iac, EC) => {
                    self.line.pop();
                    Parse::Data
                }
                (Parse::Iac, EL) => {
                    self.line.clear();
                    Parse::Data
                }
                (Parse::Iac, IP | BRK) => {
                    self.line.clear();
                    out.interrupted = true;
                    Parse::Data
                }
                (Parse::Iac, AYT) => {
                    out.reply.extend_from_slice(b"\r\n[yes]\r\n");
                    Parse::Data
                }
                (Parse::Iac, _) => Parse::Data, // NOP, GA, AO, DM, …: nothing to do
                (Parse::Negotiate(cmd), opt) => {
                    self.negotiate(cmd, opt, &mut out.reply);
                    Parse::Data
                }
                (Parse::Sub, IAC) => Parse::SubIac,
                (Parse::Sub, _) => Parse::Sub,
                (Parse::SubIac, SE) => Parse::Data,
                (Parse::SubIac, _) => Parse::Sub,
            };
        }
        out
    }

    fn push(&mut self, b: u8) {
        if self.line.len() < MAX_LINE {
            self.line.push(b);
        } else {
            self.overflow = true;
        }
    }

    fn end_line(&mut self, out: &mut TelnetOutput) {
        let line = String::from_utf8_lossy(&self.line).into_owned();
        out.lines.push(line);
        self.line.clear();
        self.overflow = false;
    }

    /// RFC 854 option negotiation with RFC 1143's rule: answer only a
    /// request that would change the state.
    fn negotiate(&mut self, cmd: u8, opt: u8, reply: &mut Vec<u8>) {
        match (cmd, opt) {
            (WILL, OPT_SGA) if !self.him_sga => {
                self.him_sga = true;
                reply.extend_from_slice(&[IAC, DO, OPT_SGA]);
            }
            (DO, OPT_SGA) if !self.us_sga => {
                self.us_sga = true;
                reply.extend_from_slice(&[IAC, WILL, OPT_SGA]);
            }
            (WILL, OPT_SGA) | (DO, OPT_SGA) => {}
            (WONT, OPT_SGA) if self.him_sga => {
                self.him_sga = false;
                reply.extend_from_slice(&[IAC, DONT, OPT_SGA]);
            }
            (DONT, OPT_SGA) if self.us_sga => {
                self.us_sga = false;
                reply.extend_from_slice(&[IAC, WONT, OPT_SGA]);
            }
            (WILL, o) => reply.extend_from_slice(&[IAC, DONT, o]),
            (DO, o) => reply.extend_from_slice(&[IAC, WONT, o]),
            // DONT/WONT for an option that is off: already agreed, say nothing.
            _ => {}
        }
    }
}

/// Make text safe to send over telnet: LF becomes CR LF (RFC 854's NVT end
/// of line) and a data byte 255 is doubled.
pub fn to_nvt(text: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len() + text.len() / 16);
    let mut prev = 0u8;
    for &b in text.as_bytes() {
        match b {
            b'\n' if prev != b'\r' => out.extend_from_slice(b"\r\n"),
            IAC => out.extend_from_slice(&[IAC, IAC]),
            _ => out.push(b),
        }
        prev = b;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_with_every_ending() {
        let mut t = TelnetSession::new();
        let out = t.input(b"netstat\r\nstats\r\0arp\nro");
        assert_eq!(out.lines, vec!["netstat", "stats", "arp"]);
        assert_eq!(t.input(b"ute\r\n").lines, vec!["route"]);
    }

    #[test]
    fn refuses_options_once_and_grants_sga() {
        let mut t = TelnetSession::new();
        assert_eq!(t.greeting(), vec![IAC, WILL, OPT_SGA]);
        // What Linux telnet sends first: DO SGA, WILL TTYPE(24), WILL NAWS(31), WILL NEW-ENVIRON(39)...
        let out = t.input(&[IAC, DO, OPT_SGA, IAC, WILL, 24, IAC, WILL, 31, IAC, DO, OPT_ECHO, IAC, WILL, OPT_SGA]);
        assert_eq!(out.reply, vec![IAC, DONT, 24, IAC, DONT, 31, IAC, WONT, OPT_ECHO, IAC, DO, OPT_SGA]);
        assert!(out.lines.is_empty());
        // Their acknowledgements of our refusals get no answer: no loop.
        let out = t.input(&[IAC, WONT, 24, IAC, WONT, 31, IAC, DONT, OPT_ECHO]);
        assert!(out.reply.is_empty());
    }

    #[test]
    fn iac_commands_and_subnegotiation() {
        let mut t = TelnetSession::new();
        let out = t.input(&[b'a', IAC, IAC, b'b', IAC, SB, 24, 0, b'x', b't', IAC, SE, b'c', b'\r', b'\n']);
        assert_eq!(out.lines.len(), 1);
        assert_eq!(out.lines[0].as_bytes()[0], b'a');
        assert!(out.lines[0].ends_with("bc"));
        let out = t.input(&[b'x', b'y', IAC, EC, 0x7f, b'z', b'\r', b'\n']);
        assert_eq!(out.lines, vec!["z"]);
        let out = t.input(&[b'r', b'm', IAC, IP, IAC, AYT]);
        assert!(out.interrupted);
        assert_eq!(out.reply, b"\r\n[yes]\r\n");
        assert_eq!(t.input(b"\r\n").lines, vec![""]);
    }

    #[test]
    fn long_lines_are_bounded() {
        let mut t = TelnetSession::new();
        let out = t.input(&vec![b'x'; 5000]);
        assert!(out.lines.is_empty());
        let out = t.input(b"\n");
        assert_eq!(out.lines[0].len(), MAX_LINE);
    }

    #[test]
    fn nvt_output() {
        assert_eq!(to_nvt("a\nb\r\nc"), b"a\r\nb\r\nc");
    }
}
