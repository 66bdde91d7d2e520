//! A blocking TCP echo server on synack over a TAP, for the host's `nc`:
//!
//!     sudo -E cargo run --example echo_tap          # makes tap0, 10.0.0.2
//!     nc 10.0.0.2 7000                              # from the host
//!
//! Needs root (or CAP_NET_ADMIN) to make the TAP. Arguments: [TAP [PORT]].
//! The set-up is the one `synack up` does (`synack_apps::iface::bring_up`).

use device::net::{Net, TcpListener};
use std::io::{Read, Write};
use synack_apps::iface::{bring_up, IfaceArgs, Show};

fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let mut iface = IfaceArgs::defaults();
    iface.tap = args.next().unwrap_or(iface.tap);
    let port: u16 = args.next().map_or(7000, |p| p.parse().expect("PORT"));
    // SAFETY: geteuid only reads our user id.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("echo_tap needs root to make a TAP: sudo -E cargo run --example echo_tap");
        eprintln!("(without root: cargo run --example echo_sim)");
        std::process::exit(1);
    }
    // The stack thread makes the TAP and runs the poll loop, quietly.
    let addr = iface.addr.0;
    let net = Net::spawn_loop(move || bring_up(&iface, Show::default()).map(|(ifc, _, _)| ifc))?;

    let listener = TcpListener::bind(&net, (addr, port))?;
    println!("echo on {}: try `nc {addr} {port}`", listener.local_addr()?);
    for stream in listener.incoming() {
        let mut stream = stream?;
        println!("connection from {}", stream.peer_addr()?);
        // A thread per connection, as the course's threaded server does.
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n @ 1..) = stream.read(&mut buf) {
                if stream.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
        });
    }
    Ok(())
}
