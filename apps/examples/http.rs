//! A tiny HTTP/1.0 server on synack over a TAP, for the host's `curl`:
//!
//!     sudo -E cargo run --example http             # makes tap0, 10.0.0.2
//!     curl http://10.0.0.2:8080/hello              # from the host
//!
//! Needs root (or CAP_NET_ADMIN) to make the TAP. Argument: [TAP].
//! One request per connection; the reply says what was asked for.

use device::net::{Net, TcpListener, TcpStream};
use std::io::{BufRead, BufReader, Write};
use synack_apps::iface::{bring_up, IfaceArgs, Show};

fn serve(stream: TcpStream) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?; // "GET /hello HTTP/1.1"
                                          // Skip the headers, up to the empty line.
    let mut header = String::new();
    while reader.read_line(&mut header)? > 2 {
        header.clear();
    }
    let path = request_line.split_whitespace().nth(1).unwrap_or("/");
    let body = format!("hello from synack's TCP: you asked for {path}\n");
    let reply = format!("HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n{body}", body.len());
    (&stream).write_all(reply.as_bytes())
    // `stream` dropped here: FIN, which tells curl the reply is complete.
}

fn main() -> std::io::Result<()> {
    let mut iface = IfaceArgs::defaults();
    iface.tap = std::env::args().nth(1).unwrap_or(iface.tap);
    // SAFETY: geteuid only reads our user id.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("http needs root to make a TAP: sudo -E cargo run --example http");
        std::process::exit(1);
    }
    let addr = iface.addr.0;
    let net = Net::spawn_loop(move || bring_up(&iface, Show::default()).map(|(ifc, _, _)| ifc))?;
    let listener = TcpListener::bind(&net, (addr, 8080))?;
    println!("serving on http://{}/", listener.local_addr()?);
    for stream in listener.incoming() {
        let stream = stream?;
        std::thread::spawn(move || serve(stream));
    }
    Ok(())
}
