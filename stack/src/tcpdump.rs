//! One line per frame in the format of `tcpdump -n` (placeholder).

/// Format one Ethernet frame as `tcpdump -n` would print it.
pub fn format_frame(frame: &[u8]) -> String {
    format!("{} bytes", frame.len())
}
