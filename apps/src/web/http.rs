//! HTTP/1.1 messages, sans-IO: a request parsed out of the bytes a
//! connection has received so far (`parse_request`), a response written
//! into bytes to send (`Response::to_bytes`). No socket, no clock: the
//! server (server.rs) feeds the bytes in and decides when.
//!
//! Read first: RFC 9112 (HTTP/1.1: the request line §3, the headers §5,
//! the message body and Content-Length §6, persistence §9.3), RFC 9110
//! (the status codes §15, Host §7.2), and the `httparse` crate, which
//! checks the bytes of the request line and headers. What we add is what a
//! server must decide: which methods and versions, which limits, whether
//! the connection stays open. Like nginx's `ngx_http_parse_request_line`
//! and its `large_client_header_buffers`, every limit is a constant here
//! and answers with its status code.

use std::fmt::Write as _;

/// The request line and headers together, at most (RFC 9110 §15.5.20's
/// 431 when longer, as nginx's `large_client_header_buffers` 8k).
pub const MAX_HEAD: usize = 8 * 1024;
/// Headers per request, at most (431 when more).
pub const MAX_HEADERS: usize = 64;
/// A request body, at most (413 Content Too Large when longer): the API
/// takes only a breakpoint filter.
pub const MAX_BODY: usize = 4 * 1024;
/// The request-target, at most (414 URI Too Long when longer).
pub const MAX_TARGET: usize = 2 * 1024;

/// The methods the server knows; any other valid method is 405.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Method {
    Get,
    Head,
    Post,
}

/// A request, complete (its body too).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    pub method: Method,
    /// The path of the request-target (origin-form, or an absolute-form's
    /// path), without the query.
    pub path: String,
    /// What followed `?`, if anything.
    pub query: Option<String>,
    /// HTTP/1.0 (`false`) or HTTP/1.1 (`true`).
    pub http11: bool,
    /// Whether the connection stays open after the response (RFC 9112 §9.3).
    pub keep_alive: bool,
    /// The `Host` and `Origin` headers, if sent (the API checks a POST's
    /// origin: a page of another site must not drive step mode).
    pub host: Option<String>,
    pub origin: Option<String>,
    pub body: Vec<u8>,
}

impl Request {
    /// The value of query parameter `name` (`since_ms=12` → `"12"`).
    pub fn query_param(&self, name: &str) -> Option<&str> {
        self.query.as_deref()?.split('&').find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
    }
}

/// What the bytes received so far are.
#[derive(Debug, PartialEq, Eq)]
pub enum Parsed {
    /// Not a whole request yet: read more.
    Partial,
    /// A request, and how many bytes of the buffer it took.
    Done(Request, usize),
    /// A request the server will not serve: answer with this status and
    /// close the connection (what follows in the stream cannot be trusted).
    Error(Status),
}

/// A response status: the code and its reason phrase (RFC 9110 §15).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Status(pub u16);

impl Status {
    pub const OK: Status = Status(200);
    pub const BAD_REQUEST: Status = Status(400);
    pub const FORBIDDEN: Status = Status(403);
    pub const NOT_FOUND: Status = Status(404);
    pub const METHOD_NOT_ALLOWED: Status = Status(405);
    pub const REQUEST_TIMEOUT: Status = Status(408);
    pub const CONFLICT: Status = Status(409);
    pub const LENGTH_REQUIRED: Status = Status(411);
    pub const CONTENT_TOO_LARGE: Status = Status(413);
    pub const URI_TOO_LONG: Status = Status(414);
    pub const HEADERS_TOO_LARGE: Status = Status(431);
    pub const NOT_IMPLEMENTED: Status = Status(501);
    pub const SERVICE_UNAVAILABLE: Status = Status(503);
    pub const VERSION_NOT_SUPPORTED: Status = Status(505);

    pub fn reason(self) -> &'static str {
        match self.0 {
            200 => "OK",
            400 => "Bad Request",
            403 => "Forbidden",
            404 => "Not Found",
            405 => "Method Not Allowed",
            408 => "Request Timeout",
            409 => "Conflict",
            411 => "Length Required",
            413 => "Content Too Large",
            414 => "URI Too Long",
            431 => "Request Header Fields Too Large",
            501 => "Not Implemented",
            503 => "Service Unavailable",
            505 => "HTTP Version Not Supported",
            _ => "Unknown",
        }
    }
}

/// Parse the request at the start of `buf`. Never panics, whatever the
/// bytes; never asks for more than `MAX_HEAD + MAX_BODY` bytes.
pub fn parse_request(buf: &[u8]) -> Parsed {
    // The version first, from the request line as far as it has come:
    // `PRI * HTTP/2.0` (HTTP/2's preface) or `HTTP/1.2` is 505, not 400.
    if let Some(status) = check_request_line(buf) {
        return Parsed::Error(status);
    }
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut headers);
    let head_len = match req.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) if buf.len() >= MAX_HEAD => return Parsed::Error(Status::HEADERS_TOO_LARGE),
        Ok(httparse::Status::Partial) => return Parsed::Partial,
        Err(httparse::Error::TooManyHeaders) => return Parsed::Error(Status::HEADERS_TOO_LARGE),
        // `HTTP/` and a version we do not speak (a partial line that
        // check_request_line could not judge yet); anything else is 400.
        Err(httparse::Error::Version) if says_http(buf) => return Parsed::Error(Status::VERSION_NOT_SUPPORTED),
        Err(_) => return Parsed::Error(Status::BAD_REQUEST),
    };
    if head_len > MAX_HEAD {
        return Parsed::Error(Status::HEADERS_TOO_LARGE);
    }
    let (Some(method), Some(target), Some(version)) = (req.method, req.path, req.version) else {
        return Parsed::Error(Status::BAD_REQUEST);
    };
    let method = match method {
        "GET" => Method::Get,
        "HEAD" => Method::Head,
        "POST" => Method::Post,
        // A valid token (httparse checked it), not one of ours.
        _ => return Parsed::Error(Status::METHOD_NOT_ALLOWED),
    };
    let http11 = version == 1;
    let mut host = 0;
    let mut host_value = None;
    let mut origin = None;
    let mut content_length: Option<usize> = None;
    let mut connection_close = false;
    let mut connection_keep_alive = false;
    for h in req.headers.iter() {
        let name = h.name;
        if name.eq_ignore_ascii_case("host") {
            host += 1;
            host_value = Some(String::from_utf8_lossy(h.value).trim().to_string());
        } else if name.eq_ignore_ascii_case("origin") {
            origin = Some(String::from_utf8_lossy(h.value).trim().to_string());
        } else if name.eq_ignore_ascii_case("content-length") {
            // RFC 9112 §6.3 (5): an invalid or a second, different length
            // cannot be recovered from.
            let Some(n) = parse_content_length(h.value) else { return Parsed::Error(Status::BAD_REQUEST) };
            if content_length.is_some_and(|m| m != n) {
                return Parsed::Error(Status::BAD_REQUEST);
            }
            content_length = Some(n);
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            // RFC 9112 §6.1: we take no transfer coding (a chunked body);
            // RFC 9110 §15.6.2: 501 for what the server does not implement.
            return Parsed::Error(Status::NOT_IMPLEMENTED);
        } else if name.eq_ignore_ascii_case("connection") {
            for token in String::from_utf8_lossy(h.value).split(',') {
                let t = token.trim();
                connection_close |= t.eq_ignore_ascii_case("close");
                connection_keep_alive |= t.eq_ignore_ascii_case("keep-alive");
            }
        }
    }
    // RFC 9112 §3.2: a 1.1 request without Host, or with two, is 400.
    if (http11 && host == 0) || host > 1 {
        return Parsed::Error(Status::BAD_REQUEST);
    }
    let (path, query) = match split_target(target) {
        Ok(pq) => pq,
        Err(status) => return Parsed::Error(status),
    };
    let body_len = content_length.unwrap_or(0);
    if body_len > MAX_BODY {
        return Parsed::Error(Status::CONTENT_TOO_LARGE);
    }
    if buf.len() < head_len + body_len {
        return Parsed::Partial;
    }
    // RFC 9112 §9.3: 1.1 stays open unless `close`; 1.0 closes unless `keep-alive`.
    let keep_alive = if http11 { !connection_close } else { connection_keep_alive && !connection_close };
    let body = buf[head_len..head_len + body_len].to_vec();
    let req = Request { method, path, query, http11, keep_alive, host: host_value, origin, body };
    Parsed::Done(req, head_len + body_len)
}

/// The request line, as far as it has come: a version that is not HTTP/1.x
/// is 505 (HTTP/2's preface too), an over-long line 414 or 431.
fn check_request_line(buf: &[u8]) -> Option<Status> {
    let end = buf.iter().position(|&b| b == b'\n');
    let line = &buf[..end.unwrap_or(buf.len())];
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let mut parts = line.split(|&b| b == b' ');
    let (_method, target) = (parts.next(), parts.next());
    if target.is_some_and(|t| t.len() > MAX_TARGET) {
        return Some(Status::URI_TOO_LONG);
    }
    if end.is_none() {
        return (line.len() >= MAX_HEAD).then_some(Status::HEADERS_TOO_LARGE);
    }
    let version = parts.next()?;
    if parts.next().is_some() {
        return Some(Status::BAD_REQUEST); // a space in the target
    }
    let http = version.strip_prefix(b"HTTP/")?;
    (http != b"1.0" && http != b"1.1").then_some(Status::VERSION_NOT_SUPPORTED)
}

/// Whether the request line's third word starts like `HTTP/`.
fn says_http(buf: &[u8]) -> bool {
    let line = buf.split(|&b| b == b'\n').next().unwrap_or(buf);
    let version = line.split(|&b| b == b' ').nth(2).unwrap_or(b"");
    let n = version.len().min(5);
    n > 0 && version[..n] == b"HTTP/"[..n]
}

/// `Content-Length`: digits only (no sign, no spaces inside), and a number
/// that fits.
fn parse_content_length(v: &[u8]) -> Option<usize> {
    let v = std::str::from_utf8(v).ok()?.trim();
    if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) || v.len() > 18 {
        return None;
    }
    v.parse().ok()
}

/// The request-target as (path, query): origin-form `/p?q`, or
/// absolute-form `http://host/p?q` (RFC 9112 §3.2.2: a server must accept
/// it). Only ASCII (RFC 3986: a URI is ASCII; others are percent-encoded).
fn split_target(target: &str) -> Result<(String, Option<String>), Status> {
    if !target.is_ascii() {
        return Err(Status::BAD_REQUEST);
    }
    let origin = if let Some(rest) = target.strip_prefix("http://") {
        match rest.find('/') {
            Some(i) => &rest[i..],
            None => "/",
        }
    } else if target.starts_with('/') {
        target
    } else {
        // `*` (OPTIONS only) and authority-form (CONNECT only) are not ours.
        return Err(Status::BAD_REQUEST);
    };
    Ok(match origin.split_once('?') {
        Some((p, q)) => (p.to_string(), Some(q.to_string())),
        None => (origin.to_string(), None),
    })
}

/// A response, whole: status, headers, body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    pub status: Status,
    pub content_type: &'static str,
    pub body: Vec<u8>,
    /// More header lines (`Allow: GET, HEAD`), without CRLF.
    pub headers: Vec<String>,
}

pub const JSON: &str = "application/json";
pub const TEXT: &str = "text/plain; charset=utf-8";

impl Response {
    pub fn new(status: Status, content_type: &'static str, body: impl Into<Vec<u8>>) -> Response {
        Response { status, content_type, body: body.into(), headers: Vec::new() }
    }
    pub fn ok(content_type: &'static str, body: impl Into<Vec<u8>>) -> Response {
        Response::new(Status::OK, content_type, body)
    }
    pub fn json(status: Status, v: &serde_json::Value) -> Response {
        Response::new(status, JSON, v.to_string())
    }
    /// An error: `{"error": "..."}`, as the API's other answers are JSON.
    pub fn error(status: Status, why: &str) -> Response {
        let mut r = Response::json(status, &serde_json::json!({ "status": status.0, "error": why }));
        if status == Status::METHOD_NOT_ALLOWED {
            r.headers.push("Allow: GET, HEAD, POST".to_string());
        }
        r
    }

    /// The bytes on the wire: status line, headers (Content-Length always),
    /// blank line, and the body unless `head_only` (a HEAD request, RFC
    /// 9110 §9.3.2: the same headers, no body).
    pub fn to_bytes(&self, keep_alive: bool, head_only: bool) -> Vec<u8> {
        let mut s = format!("HTTP/1.1 {} {}\r\n", self.status.0, self.status.reason());
        let _ = write!(
            s,
            "Server: synack\r\nContent-Type: {}\r\nContent-Length: {}\r\nCache-Control: no-store\r\n",
            self.content_type,
            self.body.len()
        );
        for h in &self.headers {
            let _ = write!(s, "{h}\r\n");
        }
        s.push_str(if keep_alive { "Connection: keep-alive\r\n\r\n" } else { "Connection: close\r\n\r\n" });
        let mut out = s.into_bytes();
        if !head_only {
            out.extend_from_slice(&self.body);
        }
        out
    }
}

/// The head of a Server-Sent Events stream (the WHATWG HTML standard,
/// §9.2): no Content-Length, the body ends when the connection does.
pub fn event_stream_head() -> Vec<u8> {
    b"HTTP/1.1 200 OK\r\nServer: synack\r\nContent-Type: text/event-stream\r\nCache-Control: no-store\r\n\
      Connection: keep-alive\r\nX-Accel-Buffering: no\r\n\r\n"
        .to_vec()
}

/// One event of such a stream: `event: NAME`, each line of `data` as a
/// `data:` line, a blank line.
pub fn event(name: &str, data: &str) -> Vec<u8> {
    let mut s = format!("event: {name}\n");
    for line in data.split('\n') {
        let _ = writeln!(s, "data: {line}");
    }
    s.push('\n');
    s.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn done(buf: &[u8]) -> (Request, usize) {
        match parse_request(buf) {
            Parsed::Done(r, n) => (r, n),
            other => panic!("{:?}: {other:?}", String::from_utf8_lossy(buf)),
        }
    }
    fn status(buf: &[u8]) -> u16 {
        match parse_request(buf) {
            Parsed::Error(s) => s.0,
            other => panic!("{:?}: {other:?}", String::from_utf8_lossy(buf)),
        }
    }

    #[test]
    fn a_get_with_query_and_keep_alive_rules() {
        let (r, n) = done(b"GET /api/conns/3/history?since_ms=120&x=1 HTTP/1.1\r\nHost: 10.0.0.2\r\n\r\nGET /");
        assert_eq!(n, 70, "the pipelined GET that follows is not taken");
        assert_eq!(
            (r.method, r.path.as_str(), r.query_param("since_ms")),
            (Method::Get, "/api/conns/3/history", Some("120"))
        );
        assert!(r.http11 && r.keep_alive);
        let (r, _) = done(b"GET / HTTP/1.1\r\nHost: a\r\nConnection: Close\r\n\r\n");
        assert!(!r.keep_alive);
        let (r, _) = done(b"GET / HTTP/1.0\r\n\r\n");
        assert!(!r.http11 && !r.keep_alive, "1.0 closes by default, Host not needed");
        let (r, _) = done(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
        assert!(r.keep_alive);
        let (r, _) = done(b"GET http://10.0.0.2/api?x HTTP/1.1\r\nHost: 10.0.0.2\r\nOrigin: http://evil\r\n\r\n");
        assert_eq!((r.path.as_str(), r.query.as_deref()), ("/api", Some("x")));
        assert_eq!((r.host.as_deref(), r.origin.as_deref()), (Some("10.0.0.2"), Some("http://evil")));
    }

    #[test]
    fn a_post_waits_for_its_body() {
        let head = b"POST /api/step/break HTTP/1.1\r\nHost: a\r\nContent-Length: 7\r\n\r\n";
        assert_eq!(parse_request(head), Parsed::Partial);
        let mut all = head.to_vec();
        all.extend_from_slice(b"port 23");
        let (r, n) = done(&all);
        assert_eq!((r.method, r.body.as_slice(), n), (Method::Post, &b"port 23"[..], all.len()));
        assert_eq!(parse_request(b"GET / HTTP/1.1\r\nHost: a\r\n"), Parsed::Partial);
        assert_eq!(parse_request(b"GE"), Parsed::Partial);
    }

    #[test]
    fn bad_requests_get_their_status() {
        let cases: &[(&[u8], u16)] = &[
            (b"BREW / HTTP/1.1\r\nHost: a\r\n\r\n", 405),
            (b"G(T / HTTP/1.1\r\nHost: a\r\n\r\n", 400),
            (b"GET / HTTP/1.2\r\nHost: a\r\n\r\n", 505),
            (b"GET / HTTP/3\r\n", 505),
            (b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 505),
            (b"GET / FTP/1.1\r\n\r\n", 400),
            (b"GET / HTTP/1.1\r\n\r\n", 400),
            (b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400),
            (b"GET / HTTP/1.1\r\nHost: a\r\nno colon here\r\n\r\n", 400),
            (b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n", 400),
            (b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 12x\r\n\r\n", 400),
            (b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 400),
            (b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999\r\n\r\n", 400),
            (b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5000\r\n\r\n", 413),
            (b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n", 501),
            (b"GET /\0 HTTP/1.1\r\nHost: a\r\n\r\n", 400),
            (b"GET /\xc3\xa9 HTTP/1.1\r\nHost: a\r\n\r\n", 400),
            (b"GET * HTTP/1.1\r\nHost: a\r\n\r\n", 400),
            (b"GET / / HTTP/1.1\r\nHost: a\r\n\r\n", 400),
            (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 400), // a TLS ClientHello
        ];
        for (req, want) in cases {
            assert_eq!(status(req), *want, "{:?}", String::from_utf8_lossy(req));
        }
    }

    #[test]
    fn the_limits_answer_431_and_414() {
        let mut many = b"GET / HTTP/1.1\r\nHost: a\r\n".to_vec();
        for i in 0..MAX_HEADERS {
            many.extend_from_slice(format!("X-{i}: y\r\n").as_bytes());
        }
        many.extend_from_slice(b"\r\n");
        assert_eq!(status(&many), 431, "{} headers", MAX_HEADERS + 1);
        let mut big = b"GET / HTTP/1.1\r\nHost: a\r\nX-Big: ".to_vec();
        big.resize(MAX_HEAD + 1, b'a');
        assert_eq!(status(&big), 431, "an unfinished head over the limit");
        big.extend_from_slice(b"\r\n\r\n");
        assert_eq!(status(&big), 431, "a finished head over the limit");
        let mut long = b"GET /".to_vec();
        long.resize(MAX_TARGET + 10, b'a');
        assert_eq!(status(&long), 414, "known as soon as the target is too long");
        let mut line = vec![b'A'; MAX_HEAD];
        line.push(b' ');
        assert_eq!(status(&line), 431, "no end of the request line in 8 KiB");
    }

    /// Whatever the bytes: no panic, and never `Partial` once a whole
    /// request of the largest kind would fit (the server holds at most
    /// that much: it must get an answer, or it would wait forever).
    #[test]
    fn random_and_mangled_requests_never_panic_nor_wait_past_the_limits() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(0x7e57);
        let good = b"POST /api/step/break?x=1 HTTP/1.1\r\nHost: 10.0.0.2\r\nContent-Length: 6\r\n\r\nport 7";
        let alphabet = b"GET /HTP1.0\r\n:; \t\0\xff\xc3\xa9-Content-Length:Host";
        for i in 0..20_000 {
            let mut buf: Vec<u8> = match i % 3 {
                // A good request with bytes flipped, cut, or repeated.
                0 => {
                    let mut b = good.to_vec();
                    for _ in 0..rng.gen_range(1..4) {
                        let at = rng.gen_range(0..b.len());
                        b[at] = rng.gen();
                    }
                    b.truncate(rng.gen_range(0..=b.len()));
                    b
                }
                1 => (0..rng.gen_range(0..200)).map(|_| alphabet[rng.gen_range(0..alphabet.len())]).collect(),
                _ => (0..rng.gen_range(0..100)).map(|_| rng.gen()).collect(),
            };
            let _ = parse_request(&buf);
            // Padded past what the server holds: an answer, whatever it is.
            buf.resize(MAX_HEAD + MAX_BODY, b'a');
            assert_ne!(parse_request(&buf), Parsed::Partial, "{:?}", String::from_utf8_lossy(&buf[..80]));
        }
    }

    #[test]
    fn responses_carry_length_and_connection() {
        let r = Response::ok(TEXT, "hi");
        let s = String::from_utf8(r.to_bytes(true, false)).unwrap();
        assert!(s.starts_with("HTTP/1.1 200 OK\r\n"), "{s}");
        assert!(s.contains("Content-Length: 2\r\n") && s.contains("Connection: keep-alive\r\n"), "{s}");
        assert!(s.ends_with("\r\n\r\nhi"), "{s}");
        let s = String::from_utf8(r.to_bytes(false, true)).unwrap();
        assert!(s.contains("Content-Length: 2\r\n") && s.ends_with("Connection: close\r\n\r\n"), "HEAD: {s}");
        let e = Response::error(Status::METHOD_NOT_ALLOWED, "no");
        let s = String::from_utf8(e.to_bytes(false, false)).unwrap();
        assert!(s.starts_with("HTTP/1.1 405 Method Not Allowed\r\n") && s.contains("Allow: GET, HEAD, POST\r\n"));
        let v: serde_json::Value = serde_json::from_slice(&e.body).unwrap();
        assert_eq!(v["status"], 405);
        assert_eq!(event("step", "a\nb"), b"event: step\ndata: a\ndata: b\n\n");
    }
}
