//! An edge-triggered epoll echo server with non-blocking accept, on the
//! in-memory wire (no root): `cargo run --example echo_epoll`.
//!
//! The rule of EPOLLET: an event says "something new arrived", once; so
//! on each event, accept or read until `WouldBlock`, or it never comes again.

use device::net::{Epoll, EpollFlags, Net, TcpListener, TcpStream};
use stack::{Config, MacAddr};
use std::collections::HashMap;
use std::io::{ErrorKind, Read, Write};

const LISTENER: u64 = 0;

fn main() -> std::io::Result<()> {
    let a = Config { addr: [10, 0, 0, 1].into(), mac: MacAddr([2, 0, 0, 0, 0, 1]), ..Config::default() };
    let b = Config { addr: [10, 0, 0, 2].into(), mac: MacAddr([2, 0, 0, 0, 0, 2]), ..Config::default() };
    let (net_a, net_b) = Net::sim(a, b)?;

    // The listener on A first, so that the clients find it.
    let listener = TcpListener::bind(&net_a, "10.0.0.1:7")?;
    listener.set_nonblocking(true)?;

    // Three clients on B, in threads: each sends a line and waits for it.
    for i in 0..3 {
        let net_b = net_b.clone();
        std::thread::spawn(move || {
            let mut c = TcpStream::connect(&net_b, "10.0.0.1:7").unwrap();
            c.write_all(format!("client {i}\n").as_bytes()).unwrap();
            let mut buf = [0u8; 64];
            let n = c.read(&mut buf).unwrap();
            print!("client {i} got back: {}", String::from_utf8_lossy(&buf[..n]));
        });
    }

    // The reactor on A: one thread, everything non-blocking.
    let epoll = Epoll::new(&net_a)?;
    epoll.add(&listener, EpollFlags::EPOLLIN | EpollFlags::EPOLLET, LISTENER)?;
    let mut conns: HashMap<u64, TcpStream> = HashMap::new();
    let (mut next_token, mut served) = (1, 0);
    let mut events = Vec::new();
    while served < 3 {
        epoll.wait(&mut events, None)?; // sleeps until something is ready
        for ev in &events {
            if ev.token == LISTENER {
                // Accept until the accept queue is empty.
                loop {
                    match listener.accept() {
                        Ok((s, peer)) => {
                            println!("accepted {peer}");
                            s.set_nonblocking(true)?;
                            epoll.add(&s, EpollFlags::EPOLLIN | EpollFlags::EPOLLET, next_token)?;
                            conns.insert(next_token, s);
                            next_token += 1;
                        }
                        Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                        Err(e) => return Err(e),
                    }
                }
            } else if let Some(s) = conns.get_mut(&ev.token) {
                // Read until WouldBlock (more may come later) or EOF.
                let mut buf = [0u8; 1024];
                loop {
                    match s.read(&mut buf) {
                        Ok(0) => {
                            conns.remove(&ev.token); // dropped: closed
                            served += 1;
                            break;
                        }
                        Ok(n) => s.write_all(&buf[..n])?,
                        Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                        Err(e) => return Err(e),
                    }
                }
            }
        }
    }
    Ok(())
}
