//! What Wireshark's dissectors make of a capture: `tshark` with every
//! checksum check on (IPv4, UDP, TCP; ICMP's is always checked).
//!
//! [`report`] reads a capture four ways: its frames, the frames tshark calls
//! malformed (`_ws.malformed`), the frames with a bad checksum at any layer
//! (`*.checksum.status == "Bad"`), and the expert infos of severity note and
//! up (`-z expert,note`: retransmissions, zero windows, resets, …).
//! [`Report::assert_clean`] then wants no malformed frame, no bad checksum,
//! no expert error, and exactly the expert infos the caller lists: those
//! that are the point of the capture.

use crate::run_bounded;
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

const T: Duration = Duration::from_secs(120);

const CHECKSUMS: [&str; 3] = ["ip.check_checksum:TRUE", "udp.check_checksum:TRUE", "tcp.check_checksum:TRUE"];

/// A bad checksum at any layer tshark verifies.
const BAD_CHECKSUM: &str = r#"ip.checksum.status == "Bad" || icmp.checksum.status == "Bad" || udp.checksum.status == "Bad" || tcp.checksum.status == "Bad""#;

/// What tshark says about one capture.
#[derive(Debug, Default)]
pub struct Report {
    /// Frames in the capture.
    pub frames: usize,
    /// Numbers (from 1) of the frames tshark calls malformed.
    pub malformed: Vec<u64>,
    /// Numbers of the frames with a bad checksum.
    pub bad_checksums: Vec<u64>,
    /// Expert infos, note and up: `"Warning: TCP Zero Window segment"` → 53.
    /// The severities are tshark's: Error, Warning, Note.
    pub expert: BTreeMap<String, u64>,
}

impl Report {
    /// The expert infos of severity error.
    pub fn errors(&self) -> Vec<String> {
        self.expert.keys().filter(|k| k.starts_with("Error: ")).cloned().collect()
    }

    /// No malformed frame, no bad checksum, no expert error, and the expert
    /// infos exactly `expected` (`("Warning: TCP Zero Window segment", 53)`).
    pub fn assert_clean(&self, what: &str, expected: &[(&str, u64)]) {
        assert!(self.frames > 0, "{what}: tshark read no frame");
        assert!(self.malformed.is_empty(), "{what}: tshark calls frames {:?} malformed", self.malformed);
        assert!(self.bad_checksums.is_empty(), "{what}: bad checksums in frames {:?}", self.bad_checksums);
        assert!(self.errors().is_empty(), "{what}: tshark's expert errors: {:?}", self.errors());
        let want: BTreeMap<String, u64> = expected.iter().map(|&(k, n)| (k.to_string(), n)).collect();
        assert_eq!(self.expert, want, "{what}: tshark's expert infos (left) are not the expected ones (right)");
    }
}

fn tshark(file: &Path, args: &[&str]) -> String {
    let mut c = Command::new("tshark");
    c.arg("-n").arg("-r").arg(file);
    for p in CHECKSUMS {
        c.args(["-o", p]);
    }
    c.args(args);
    let out = run_bounded(c, T).expect("run tshark");
    assert!(out.success(), "tshark {args:?} on {}:\n{}", file.display(), out.text());
    out.stdout
}

/// Frame numbers, one per line, of the frames `filter` keeps.
fn frames_where(file: &Path, filter: &str) -> Vec<u64> {
    let out = tshark(file, &["-Y", filter, "-T", "fields", "-e", "frame.number"]);
    out.lines().filter_map(|l| l.trim().parse().ok()).collect()
}

/// Read `file` with tshark (see the module comment).
pub fn report(file: &Path) -> Report {
    let frames = tshark(file, &["-T", "fields", "-e", "frame.number"]).lines().count();
    let malformed = frames_where(file, "_ws.malformed");
    let bad_checksums = frames_where(file, BAD_CHECKSUM);
    let expert = parse_expert(&tshark(file, &["-q", "-z", "expert,note"]));
    Report { frames, malformed, bad_checksums, expert }
}

/// `-z expert`'s tables: a title per severity (`Errors (2)`, `Warns (144)`,
/// `Notes (6)`), a header whose `Summary` column starts the summaries, then
/// `Frequency Group Protocol Summary` rows.
fn parse_expert(text: &str) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    let (mut severity, mut summary_at) = (None, None);
    for line in text.lines() {
        let title = line.split(" (").next().unwrap_or("");
        match title {
            "Errors" => severity = Some("Error"),
            "Warns" => severity = Some("Warning"),
            "Notes" => severity = Some("Note"),
            "Chats" | "Comments" => severity = None,
            _ => {}
        }
        if line.trim_start().starts_with("Frequency") {
            summary_at = line.find("Summary");
            continue;
        }
        let (Some(sev), Some(at)) = (severity, summary_at) else { continue };
        let Some(n) = line.split_whitespace().next().and_then(|f| f.parse::<u64>().ok()) else { continue };
        let Some(summary) = line.get(at..) else { continue };
        *out.entry(format!("{sev}: {}", summary.trim())).or_insert(0) += n;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expert_tables_are_read_by_severity() {
        let text = "\nErrors (1)\n=============\n   Frequency      Group           Protocol  Summary\n           1     Malformed             TCP  Malformed Packet (Exception occurred)\n\nWarns (144)\n=============\n   Frequency      Group           Protocol  Summary\n          91   Sequence                TCP  TCP window specified by the receiver is now completely full\n          53   Sequence                TCP  TCP Zero Window segment\n\nNotes (4)\n=============\n   Frequency      Group           Protocol  Summary\n           4   Sequence                TCP  TCP keep-alive segment\n";
        let e = parse_expert(text);
        assert_eq!(e.len(), 4, "{e:?}");
        assert_eq!(e["Error: Malformed Packet (Exception occurred)"], 1);
        assert_eq!(e["Warning: TCP Zero Window segment"], 53);
        assert_eq!(e["Note: TCP keep-alive segment"], 4);
        let r = Report { frames: 1, expert: e, ..Report::default() };
        assert_eq!(r.errors(), ["Error: Malformed Packet (Exception occurred)"]);
    }
}
