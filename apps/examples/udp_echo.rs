//! A UDP echo server and client on the in-memory wire (no root):
//! `cargo run --example udp_echo`. Each datagram comes back whole.

use device::net::{Net, UdpSocket};
use stack::{Config, MacAddr};
use std::time::Duration;

fn main() -> std::io::Result<()> {
    let a = Config { addr: [10, 0, 0, 1].into(), mac: MacAddr([2, 0, 0, 0, 0, 1]), ..Config::default() };
    let b = Config { addr: [10, 0, 0, 2].into(), mac: MacAddr([2, 0, 0, 0, 0, 2]), ..Config::default() };
    let (net_a, net_b) = Net::sim(a, b)?;

    // The server on A: whatever comes, back to whoever sent it.
    let server = UdpSocket::bind(&net_a, "10.0.0.1:7")?;
    std::thread::spawn(move || {
        let mut buf = [0u8; 1500];
        while let Ok((n, from)) = server.recv_from(&mut buf) {
            let _ = server.send_to(&buf[..n], from);
        }
    });

    // The client on B: port 0 picks an ephemeral port.
    let client = UdpSocket::bind(&net_b, "0.0.0.0:0")?;
    client.connect("10.0.0.1:7")?; // send/recv now go to/come from A:7
    client.set_read_timeout(Some(Duration::from_secs(2)))?; // UDP may lose
    for msg in ["one", "two", "three"] {
        client.send(msg.as_bytes())?;
        let mut buf = [0u8; 1500];
        let n = client.recv(&mut buf)?;
        println!("{} -> {}", msg, String::from_utf8_lossy(&buf[..n]));
    }
    Ok(())
}
