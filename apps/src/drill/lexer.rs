//! The words of a packetdrill script: the text cut into tokens, each with
//! the line it starts on, before `parse.rs` reads the grammar.
//!
//! Read first: packetdrill's README and its paper (Cardwell et al.,
//! "packetdrill: Scriptable Network Stack Testing, from Sockets to
//! Packets", USENIX ATC 2013); the token rules here follow its lexer
//! (`lexer.l`), written anew:
//!
//! - `//` to the end of the line and `/* … */` (across lines) are comments;
//!   spaces, tabs and newlines separate tokens (a `\r` too, for CRLF files).
//! - `--name` opens a header option.
//! - Numbers: `12` and `-1` (integers), `0x1f` (hex), `1.5`, `.1` and
//!   `-0.5` (fractions), `192.0.2.1` (an IPv4 address), IPv6 addresses.
//! - Words: letters, digits and `_` (`S`, `AF_INET`, `sackOK`).
//! - `"string"`, `` `command` `` and `%{ code }%` may span lines; their
//!   text is kept as written (escapes are not undone).
//! - `...` is one token; any other character is a token of its own (`<`,
//!   `:`, `(`, `.`, …).
//!
//! Where two rules match, the longer match wins (`1.5` is a fraction, not
//! `1` then `.5`; `123abc` is a word), and on a tie the earlier rule in the
//! list above (`12` is an integer, not a word), as in packetdrill.

use std::net::Ipv6Addr;

#[derive(Clone, Debug, PartialEq)]
pub enum TokenKind {
    /// `--name`, without the dashes.
    OptionName(String),
    Int(i64),
    Float(f64),
    Word(String),
    /// `"…"`, without the quotes.
    Str(String),
    /// `` `…` ``, without the backticks.
    Command(String),
    /// `%{ … }%`: the text inside, spaces and tabs trimmed at both ends.
    Code(String),
    /// `...`
    Ellipsis,
    Ipv4(String),
    Ipv6(String),
    /// Any other single character.
    Punct(char),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Token {
    pub kind: TokenKind,
    /// 1-based line of the token's first character.
    pub line: usize,
    /// Byte range in the script's text (on character boundaries).
    pub start: usize,
    pub end: usize,
    /// Whitespace or a comment comes right before it (or it opens the text).
    pub spaced: bool,
}

/// A token the lexer could not finish (an unterminated comment, string,
/// command or code block; an integer too large).
#[derive(Clone, Debug, PartialEq)]
pub struct LexError {
    pub line: usize,
    pub message: String,
}

/// Cuts `text` into tokens. Linear in the length of the text.
pub fn tokenize(text: &str) -> Result<Vec<Token>, LexError> {
    let mut lexer = Lexer { text, bytes: text.as_bytes(), pos: 0, line: 1 };
    let mut tokens = Vec::new();
    loop {
        let spaced = lexer.skip_space_and_comments()?;
        if lexer.pos >= lexer.bytes.len() {
            return Ok(tokens);
        }
        let (start, line) = (lexer.pos, lexer.line);
        let kind = lexer.token()?;
        tokens.push(Token { kind, line, start, end: lexer.pos, spaced: spaced || start == 0 });
    }
}

struct Lexer<'a> {
    text: &'a str,
    bytes: &'a [u8],
    pos: usize,
    line: usize,
}

fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

impl Lexer<'_> {
    fn at(&self, i: usize) -> Option<u8> {
        self.bytes.get(i).copied()
    }

    fn error(&self, line: usize, message: impl Into<String>) -> LexError {
        LexError { line, message: message.into() }
    }

    /// Moves to `to`, counting the newlines passed.
    fn advance_to(&mut self, to: usize) {
        let to = to.min(self.bytes.len());
        self.line += self.bytes[self.pos..to].iter().filter(|&&b| b == b'\n').count();
        self.pos = to;
    }

    /// The index of `pattern` at or after `from`.
    fn find(&self, from: usize, pattern: &str) -> Option<usize> {
        self.text.get(from..)?.find(pattern).map(|i| from + i)
    }

    /// Skips whitespace and comments; true if it skipped anything.
    fn skip_space_and_comments(&mut self) -> Result<bool, LexError> {
        let begin = self.pos;
        while let Some(b) = self.at(self.pos) {
            match b {
                b' ' | b'\t' | b'\n' | b'\r' => self.advance_to(self.pos + 1),
                b'/' if self.at(self.pos + 1) == Some(b'/') => {
                    let end = self.find(self.pos, "\n").unwrap_or(self.bytes.len());
                    self.advance_to(end);
                }
                b'/' if self.at(self.pos + 1) == Some(b'*') => {
                    let Some(close) = self.find(self.pos + 2, "*/") else {
                        return Err(self.error(self.line, "unterminated comment: `/*` without `*/`"));
                    };
                    self.advance_to(close + 2);
                }
                _ => break,
            }
        }
        Ok(self.pos > begin)
    }

    /// The token at `pos` (not whitespace, not a comment, not the end).
    fn token(&mut self) -> Result<TokenKind, LexError> {
        let b = self.bytes[self.pos];
        match b {
            b'"' => self.quoted(b'"', "string").map(TokenKind::Str),
            b'`' => self.quoted(b'`', "command").map(TokenKind::Command),
            b'%' if self.at(self.pos + 1) == Some(b'{') => self.code(),
            b'-' if self.at(self.pos + 1) == Some(b'-') && self.at(self.pos + 2).is_some_and(is_word_byte) => {
                let end = self.run_end(self.pos + 2, is_word_byte);
                let name = self.text[self.pos + 2..end].to_string();
                self.advance_to(end);
                Ok(TokenKind::OptionName(name))
            }
            _ => match self.longest_match() {
                Some((len, rule)) => self.finish(len, rule),
                None => {
                    // One character, whole (it may take several bytes).
                    let c = self.text[self.pos..].chars().next().unwrap_or('\u{fffd}');
                    self.advance_to(self.pos + c.len_utf8().max(1));
                    Ok(TokenKind::Punct(c))
                }
            },
        }
    }

    /// The first index at or after `from` whose byte fails `keep`.
    fn run_end(&self, from: usize, keep: fn(u8) -> bool) -> usize {
        let mut i = from;
        while self.at(i).is_some_and(keep) {
            i += 1;
        }
        i
    }

    /// `"…"` or `` `…` ``: a backslash escapes the next character.
    fn quoted(&mut self, delim: u8, what: &str) -> Result<String, LexError> {
        let line = self.line;
        let mut i = self.pos + 1;
        loop {
            match self.at(i) {
                None => {
                    let d = delim as char;
                    return Err(self.error(line, format!("unterminated {what}: `{d}` without a closing `{d}`")));
                }
                Some(b'\\') => i += 2,
                Some(b) if b == delim => break,
                Some(_) => i += 1,
            }
        }
        let inner = self.text[self.pos + 1..i].to_string();
        self.advance_to(i + 1);
        Ok(inner)
    }

    /// `%{ … }%`
    fn code(&mut self) -> Result<TokenKind, LexError> {
        let Some(close) = self.find(self.pos + 2, "}%") else {
            return Err(self.error(self.line, "unterminated code block: `%{` without `}%`"));
        };
        let inner = self.text[self.pos + 2..close].trim_matches([' ', '\t']).to_string();
        self.advance_to(close + 2);
        Ok(TokenKind::Code(inner))
    }

    /// The longest number, word, address or `...` starting at `pos`, with
    /// the rule that matched it (ties go to the earlier rule).
    fn longest_match(&self) -> Option<(usize, Rule)> {
        let candidates = [
            (self.match_ellipsis(), Rule::Ellipsis),
            (self.match_float(), Rule::Float),
            (self.match_int(), Rule::Int),
            (self.match_hex(), Rule::Hex),
            (self.match_word(), Rule::Word),
            (self.match_ipv4(), Rule::Ipv4),
            (self.match_ipv6(), Rule::Ipv6),
        ];
        let mut best: Option<(usize, Rule)> = None;
        for (len, rule) in candidates {
            if len > 0 && best.is_none_or(|(b, _)| len > b) {
                best = Some((len, rule));
            }
        }
        best
    }

    fn finish(&mut self, len: usize, rule: Rule) -> Result<TokenKind, LexError> {
        let s = &self.text[self.pos..self.pos + len];
        let kind = match rule {
            Rule::Ellipsis => TokenKind::Ellipsis,
            Rule::Float => TokenKind::Float(s.parse().map_err(|_| self.error(self.line, format!("bad number `{s}`")))?),
            Rule::Int => {
                TokenKind::Int(s.parse().map_err(|_| self.error(self.line, format!("integer out of range: {s}")))?)
            }
            Rule::Hex => TokenKind::Int(
                i64::from_str_radix(&s[2..], 16)
                    .map_err(|_| self.error(self.line, format!("integer out of range: {s}")))?,
            ),
            Rule::Word => TokenKind::Word(s.to_string()),
            Rule::Ipv4 => TokenKind::Ipv4(s.to_string()),
            Rule::Ipv6 => TokenKind::Ipv6(s.to_string()),
        };
        self.advance_to(self.pos + len);
        Ok(kind)
    }

    fn match_ellipsis(&self) -> usize {
        if self.text[self.pos..].starts_with("...") {
            3
        } else {
            0
        }
    }

    /// The index after an optional `-` at `pos`.
    fn after_sign(&self) -> usize {
        if self.at(self.pos) == Some(b'-') {
            self.pos + 1
        } else {
            self.pos
        }
    }

    /// `-?[0-9]*[.][0-9]+`
    fn match_float(&self) -> usize {
        let dot = self.run_end(self.after_sign(), |b| b.is_ascii_digit());
        if self.at(dot) != Some(b'.') {
            return 0;
        }
        let end = self.run_end(dot + 1, |b| b.is_ascii_digit());
        if end == dot + 1 {
            0
        } else {
            end - self.pos
        }
    }

    /// `-?[0-9]+`
    fn match_int(&self) -> usize {
        let from = self.after_sign();
        let end = self.run_end(from, |b| b.is_ascii_digit());
        if end == from {
            0
        } else {
            end - self.pos
        }
    }

    /// `0x[0-9a-fA-F]+`
    fn match_hex(&self) -> usize {
        if !self.text[self.pos..].starts_with("0x") {
            return 0;
        }
        let end = self.run_end(self.pos + 2, |b| b.is_ascii_hexdigit());
        if end == self.pos + 2 {
            0
        } else {
            end - self.pos
        }
    }

    /// `[a-zA-Z0-9_]+`
    fn match_word(&self) -> usize {
        self.run_end(self.pos, is_word_byte) - self.pos
    }

    /// `[0-9]+.[0-9]+.[0-9]+.[0-9]+`
    fn match_ipv4(&self) -> usize {
        let mut i = self.pos;
        for part in 0..4 {
            if part > 0 {
                if self.at(i) != Some(b'.') {
                    return 0;
                }
                i += 1;
            }
            let end = self.run_end(i, |b| b.is_ascii_digit());
            if end == i {
                return 0;
            }
            i = end;
        }
        i - self.pos
    }

    /// An IPv6 address: a run of hex digits, `:` and `.` with a `::` or
    /// seven colons (so `1:1001` stays a sequence range) that
    /// `Ipv6Addr` accepts, perhaps after dropping a trailing `:`.
    fn match_ipv6(&self) -> usize {
        // The longest address (`ffff:…:255.255.255.255`) is 45 characters;
        // looking no further keeps `1:1:1:…` linear.
        const LONGEST: usize = 45;
        let in_run = |b: u8| b.is_ascii_hexdigit() || b == b':' || b == b'.';
        let mut end = self.pos;
        while end - self.pos <= LONGEST && self.at(end).is_some_and(in_run) {
            end += 1;
        }
        if end - self.pos > LONGEST {
            return 0;
        }
        let run = &self.text[self.pos..end];
        if !run.contains("::") && run.matches(':').count() != 7 {
            return 0;
        }
        if run.parse::<Ipv6Addr>().is_ok() {
            run.len()
        } else if run.ends_with(':') && run[..run.len() - 1].parse::<Ipv6Addr>().is_ok() {
            run.len() - 1
        } else {
            0
        }
    }
}

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum Rule {
    Ellipsis,
    Float,
    Int,
    Hex,
    Word,
    Ipv4,
    Ipv6,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(text: &str) -> Vec<TokenKind> {
        tokenize(text).expect("lexes").into_iter().map(|t| t.kind).collect()
    }

    fn word(s: &str) -> TokenKind {
        TokenKind::Word(s.to_string())
    }

    #[test]
    fn numbers_words_and_punctuation() {
        use TokenKind::*;
        assert_eq!(
            kinds("+0...0.010 read(4, ..., 1000)"),
            vec![
                Punct('+'),
                Int(0),
                Ellipsis,
                Float(0.010),
                word("read"),
                Punct('('),
                Int(4),
                Punct(','),
                Ellipsis,
                Punct(','),
                Int(1000),
                Punct(')')
            ]
        );
        assert_eq!(
            kinds("+.1 < S. 1:1001(1000)"),
            vec![
                Punct('+'),
                Float(0.1),
                Punct('<'),
                word("S"),
                Punct('.'),
                Int(1),
                Punct(':'),
                Int(1001),
                Punct('('),
                Int(1000),
                Punct(')')
            ]
        );
        assert_eq!(
            kinds("-1 0x1f 123abc 0xzz -x"),
            vec![Int(-1), Int(31), word("123abc"), word("0xzz"), Punct('-'), word("x")]
        );
        assert_eq!(
            kinds("192.0.2.1 fd00::1 ::1"),
            vec![Ipv4("192.0.2.1".into()), Ipv6("fd00::1".into()), Ipv6("::1".into())]
        );
        assert_eq!(kinds("é"), vec![Punct('é')]);
    }

    #[test]
    fn options_strings_commands_code() {
        use TokenKind::*;
        assert_eq!(
            kinds("--tolerance_usecs=1000\n`a\nb` \"x\\\"y\" %{ print(1) }%"),
            vec![
                OptionName("tolerance_usecs".into()),
                Punct('='),
                Int(1000),
                Command("a\nb".into()),
                Str("x\\\"y".into()),
                Code("print(1)".into())
            ]
        );
    }

    #[test]
    fn lines_count_through_comments_and_multiline_tokens() {
        let toks = tokenize("// c\n/* a\nb */ x\n`1\n2`\ny %{\n\n}% z").expect("lexes");
        let lines: Vec<usize> = toks.iter().map(|t| t.line).collect();
        assert_eq!(lines, vec![3, 4, 6, 6, 8]);
        assert!(toks.iter().all(|t| t.spaced));
    }

    #[test]
    fn unterminated_tokens_name_their_line() {
        let e = |text: &str| tokenize(text).expect_err("fails");
        assert_eq!(e("x\n/* open").line, 2);
        assert_eq!(e("\n\n\"open").line, 3);
        assert_eq!(e("`open\n").line, 1);
        assert_eq!(e("a\nb %{ code").line, 2);
        assert!(e("99999999999999999999").message.contains("out of range"));
    }
}
