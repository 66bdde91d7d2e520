//! A blocking TCP echo server and its client, both on synack, on an
//! in-memory wire (no TAP, no root): `cargo run --example echo_sim`.
//!
//! Two stacks, A (10.0.0.1) and B (10.0.0.2), run in a thread of their
//! own; the calls below look like `std::net` and block the same way.

use device::net::{Net, TcpListener, TcpStream};
use stack::{Config, MacAddr};
use std::io::{BufRead, BufReader, Read, Write};

fn main() -> std::io::Result<()> {
    let a = Config { addr: [10, 0, 0, 1].into(), mac: MacAddr([2, 0, 0, 0, 0, 1]), ..Config::default() };
    let b = Config { addr: [10, 0, 0, 2].into(), mac: MacAddr([2, 0, 0, 0, 0, 2]), ..Config::default() };
    let (net_a, net_b) = Net::sim(a, b)?;

    // The server on A: accept, then echo until the client closes.
    let listener = TcpListener::bind(&net_a, "10.0.0.1:7")?;
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let mut stream = stream.expect("accept");
            std::thread::spawn(move || {
                let mut buf = [0u8; 1024];
                // read() returns 0 when the peer has closed (its FIN came).
                while let Ok(n @ 1..) = stream.read(&mut buf) {
                    stream.write_all(&buf[..n]).expect("write");
                }
            }); // dropping `stream` closes it: our FIN
        }
    });

    // The client on B: send three lines, read each echo back.
    let stream = TcpStream::connect(&net_b, "10.0.0.1:7")?;
    println!("connected from {} to {}", stream.local_addr()?, stream.peer_addr()?);
    let mut lines = BufReader::new(stream.try_clone()?);
    for msg in ["hello", "synack", "bye"] {
        (&stream).write_all(format!("{msg}\n").as_bytes())?;
        let mut echo = String::new();
        lines.read_line(&mut echo)?;
        print!("echo: {echo}");
    }
    Ok(())
}
