//! The curated captures in `pcaps/`: each is a recording of a real run
//! (`synack up --record`, made by `pcaps/record.sh` against the host's own
//! ping, nc, telnet), and each must replay byte for byte
//! (`synack replay DIR --check`). A change in synack's behaviour fails here
//! with a diff that names the frame and the field.
//!
//! Also: every frame of every capture prints as `tcpdump -n -r` prints it,
//! reads clean in `tshark` (no malformed frame, no bad checksum, no expert
//! error, exactly the warnings that are the capture's point), and the
//! ladder diagrams in the book are the ones the captures make now.

use device::PcapReader;
use stack::tcpdump::Printer;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;
use synack_tests::{in_ci, run_bounded, synack_bin, tshark, Output};

const T: Duration = Duration::from_secs(60);

/// The curated set the issue asks for, by directory name.
const CURATED: &[&str] = &[
    "ping",
    "arp",
    "ping-fragmented",
    "telnet",
    "closed-port",
    "backlog-overflow",
    "cwnd-loss",
    "zero-window",
    "tcp-retransmit",
    "simultaneous-close",
    "time-wait-reuse",
];

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("workspace").to_path_buf()
}

/// Every recording directory under pcaps/, sorted.
fn recordings() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(root().join("pcaps"))
        .expect("pcaps/")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.join("replay.txt").is_file())
        .collect();
    v.sort();
    v
}

fn synack(args: &[&str]) -> Output {
    let mut c = Command::new(synack_bin());
    c.args(args);
    run_bounded(c, T).expect("run synack")
}

#[test]
fn the_curated_set_is_there_and_described() {
    let readme = std::fs::read_to_string(root().join("pcaps/README.md")).expect("pcaps/README.md");
    for name in CURATED {
        let dir = root().join("pcaps").join(name);
        let rec = device::replay::Recording::load(&dir).unwrap_or_else(|e| panic!("pcaps/{name}: {e}"));
        assert!(rec.description.len() > 20, "pcaps/{name} has no one-line description");
        assert!(dir.join("capture.pcap").is_file(), "pcaps/{name}/capture.pcap");
        assert!(readme.contains(&format!("`{name}`")), "pcaps/README.md does not list {name}");
    }
    assert!(recordings().len() >= CURATED.len());
}

#[test]
fn every_recording_replays_byte_equal() {
    let mut failed = Vec::new();
    for dir in recordings() {
        let out = synack(&["replay", dir.to_str().expect("utf-8"), "--check"]);
        if !out.success() || !out.stdout.contains("every frame out is byte-equal") {
            failed.push(format!("{}:\n{}", dir.display(), out.text()));
        }
    }
    assert!(failed.is_empty(), "replays that differ from their recording:\n{}", failed.join("\n"));
}

/// The check can fail: change one byte of one frame synack sent (the TCP
/// window of its SYN-ACK) and the replay names that frame and that field.
#[test]
fn a_changed_frame_fails_with_a_diff_naming_the_field() {
    let src = root().join("pcaps/telnet");
    let tmp = std::env::temp_dir().join(format!("synack-replay-mutant-{}", std::process::id()));
    let _guard = DirGuard(tmp.clone());
    std::fs::create_dir_all(&tmp).unwrap();
    std::fs::copy(src.join("replay.txt"), tmp.join("replay.txt")).unwrap();
    let mut bytes = std::fs::read(src.join("capture.pcap")).unwrap();

    // Walk the records to synack's SYN-ACK: source MAC 02:00:00:00:00:02,
    // TCP flags SYN|ACK; its window is at Ethernet 14 + IP 20 + 14.
    let mut at = 24;
    let mut patched = false;
    while at + 16 <= bytes.len() {
        let caplen = u32::from_ne_bytes(bytes[at + 8..at + 12].try_into().unwrap()) as usize;
        let f = at + 16;
        let frame = &bytes[f..f + caplen];
        if frame[6..12] == [2, 0, 0, 0, 0, 2] && frame.len() > 54 && frame[23] == 6 && frame[47] == 0x12 {
            bytes[f + 48] ^= 0x01;
            patched = true;
            break;
        }
        at = f + caplen;
    }
    assert!(patched, "the telnet capture has synack's SYN-ACK");
    std::fs::write(tmp.join("capture.pcap"), &bytes).unwrap();

    let out = synack(&["replay", tmp.to_str().unwrap(), "--check"]);
    assert!(!out.success(), "a changed frame must fail the check:\n{}", out.text());
    assert!(out.stdout.contains("out of synack differs"), "{}", out.text());
    assert!(out.stdout.contains("tcp.win: recorded"), "the diff names the field:\n{}", out.text());
    assert!(out.stdout.contains("Flags [S.]"), "the diff shows the segment:\n{}", out.text());
}

/// A capture without its replay.txt (one from tcpdump, say) replays with
/// the default arguments: the ping capture needs nothing else.
#[test]
fn a_bare_pcap_replays_with_the_defaults() {
    let pcap = root().join("pcaps/ping/capture.pcap");
    let out = synack(&["replay", pcap.to_str().unwrap(), "--check"]);
    assert!(out.success(), "{}", out.text());
    let shown = synack(&["replay", pcap.to_str().unwrap()]);
    assert!(shown.stdout.contains("> IP 10.0.0.2 > 10.0.0.1: ICMP echo reply"), "{}", shown.text());
}

fn tcpdump_read(file: &Path, extra: &[&str]) -> Vec<String> {
    let mut c = Command::new("tcpdump");
    c.args(["-n", "-r"]).arg(file).args(extra);
    let out = run_bounded(c, T).expect("tcpdump -r");
    assert!(out.success(), "{}", out.text());
    // Drop the timestamp; keep the rest of the line as it is.
    out.stdout.lines().map(|l| l.split_once(' ').map_or(String::new(), |(_, r)| r.to_string())).collect()
}

fn have(tool: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(tool).is_file()))
}

/// synack's trace line for each frame of each curated capture is what
/// `tcpdump -n -r` prints for it (relative sequence numbers, and `-S`).
#[test]
fn trace_lines_match_tcpdump_on_every_capture() {
    if !have("tcpdump") {
        assert!(!in_ci(), "tcpdump is not installed (tests/run.sh installs it)");
        eprintln!("SKIPPED trace_lines_match_tcpdump_on_every_capture: no tcpdump (tests/run.sh installs it)");
        return;
    }
    for dir in recordings() {
        let file = dir.join("capture.pcap");
        let frames: Vec<Vec<u8>> = PcapReader::open(&file).unwrap().map(|f| f.unwrap().data).collect();
        let relative = tcpdump_read(&file, &[]);
        let absolute = tcpdump_read(&file, &["-S"]);
        assert_eq!(frames.len(), relative.len(), "{}: one tcpdump line per frame", file.display());
        let (mut rel, mut abs) = (Printer::new(), Printer::absolute());
        for (i, f) in frames.iter().enumerate() {
            assert_eq!(rel.format(f), relative[i], "{} frame {} (relative)", file.display(), i + 1);
            assert_eq!(abs.format(f), absolute[i], "{} frame {} (-S)", file.display(), i + 1);
        }
    }
}

/// What tshark's experts say about each recording, exactly: nothing is an
/// error, and each note or warning is the point of the capture (or the
/// ordinary end of a connection). Anything else, or a count that changes,
/// fails `every_recording_is_clean_in_tshark`.
const TSHARK_EXPECTS: &[(&str, &[(&str, u64)])] = &[
    ("arp", &[]),
    (
        "backlog-overflow",
        // The two dropped SYNs, sent again by the host; two clients close.
        &[
            ("Note: This frame is a (suspected) retransmission", 2),
            ("Note: This frame initiates the connection closing", 2),
        ],
    ),
    ("closed-port", &[("Warning: Connection reset (RST)", 1)]),
    (
        "cwnd-loss",
        // synack's 20th data segment dropped before the wire: the gap,
        // the host's duplicate ACKs (with SACK) until the retransmission
        // fills it; the host closes with chargen's data still arriving,
        // and its kernel answers each later segment with a RST.
        &[
            ("Note: Duplicate ACK (#1)", 1),
            ("Note: Duplicate ACK (#2)", 1),
            ("Note: Duplicate ACK (#3)", 1),
            ("Note: Duplicate ACK (#4)", 1),
            ("Note: Duplicate ACK (#5)", 1),
            ("Note: Duplicate ACK (#6)", 1),
            ("Note: Duplicate ACK (#7)", 1),
            ("Note: Duplicate ACK (#8)", 1),
            ("Note: Duplicate ACK (#9)", 1),
            ("Note: This frame initiates the connection closing", 1),
            ("Warning: Connection reset (RST)", 31),
            ("Warning: Previous segment(s) not captured (common at capture start)", 1),
            ("Warning: This frame is a (suspected) out-of-order segment", 1),
        ],
    ),
    ("ping", &[]),
    ("ping-fragmented", &[]),
    (
        "simultaneous-close",
        // Both FINs before either is acknowledged, each sent again (the
        // spurious retransmission, the late FIN PAWS drops), and the
        // duplicate ACK they draw (two in the recording before Linux's
        // delayed-ACK engine; one since).
        &[
            ("Note: Duplicate ACK (#1)", 1),
            ("Note: This frame initiates the connection closing", 2),
            ("Note: This frame is a (suspected) retransmission", 2),
            ("Note: This frame undergoes the connection closing", 2),
        ],
    ),
    (
        "tcp-retransmit",
        // The fault script drops synack's second data segment before it
        // reaches the wire (and the capture): tshark sees it once, late,
        // and calls nothing a retransmission.
        &[
            ("Note: This frame initiates the connection closing", 1),
            ("Note: This frame undergoes the connection closing", 1),
        ],
    ),
    (
        "telnet",
        &[
            ("Note: This frame initiates the connection closing", 1),
            ("Note: This frame undergoes the connection closing", 1),
        ],
    ),
    (
        "time-wait-reuse",
        &[
            ("Note: A new tcp session is started with the same ports as an earlier session in this trace", 1),
            ("Note: This frame initiates the connection closing", 2),
            ("Note: This frame undergoes the connection closing", 2),
        ],
    ),
    (
        "zero-window",
        // The host does not read: its window fills and closes; synack's
        // persist probes are what tshark calls keep-alives. Since synack
        // sizes segments as Linux does (at most half the peer's largest
        // window, `tcp_bound_to_half_wnd`: 730 bytes against the host's
        // 1460), many more segments fill and close the windows; the host
        // sends 48 bytes synack already had again (tshark: a retransmission),
        // and synack's ACK reports them with a D-SACK.
        &[
            ("Note: TCP keep-alive segment", 6),
            ("Note: This frame initiates the connection closing", 1),
            ("Note: This frame is a (suspected) retransmission", 1),
            ("Note: This frame undergoes the connection closing", 1),
            ("Warning: D-SACK Sequence", 1),
            ("Warning: TCP Zero Window segment", 656),
            ("Warning: TCP window specified by the receiver is now completely full", 595),
        ],
    ),
];

/// Every frame of every recording, TCP included, read by tshark with every
/// checksum check on: no malformed frame, no bad checksum, no expert error,
/// and exactly the notes and warnings listed in `TSHARK_EXPECTS`.
#[test]
fn every_recording_is_clean_in_tshark() {
    if !have("tshark") {
        assert!(!in_ci(), "tshark is not installed (tests/run.sh installs it)");
        eprintln!("SKIPPED every_recording_is_clean_in_tshark: no tshark (tests/run.sh installs it)");
        return;
    }
    let names: Vec<String> =
        recordings().iter().map(|d| d.file_name().unwrap().to_str().unwrap().to_string()).collect();
    let listed: Vec<&str> = TSHARK_EXPECTS.iter().map(|e| e.0).collect();
    assert_eq!(names, listed, "TSHARK_EXPECTS lists every recording in pcaps/, in order");
    for (name, expected) in TSHARK_EXPECTS {
        let file = root().join("pcaps").join(name).join("capture.pcap");
        let frames = PcapReader::open(&file).unwrap().count();
        let report = tshark::report(&file);
        assert_eq!(report.frames, frames, "pcaps/{name}: tshark reads every frame");
        report.assert_clean(&format!("pcaps/{name}"), expected);
    }
}

/// The check can fail: one byte of a TCP payload changed, and tshark finds
/// that frame's TCP checksum bad (and calls it an expert error).
#[test]
fn a_changed_tcp_byte_is_a_bad_checksum_in_tshark() {
    if !have("tshark") {
        assert!(!in_ci(), "tshark is not installed (tests/run.sh installs it)");
        eprintln!("SKIPPED a_changed_tcp_byte_is_a_bad_checksum_in_tshark: no tshark (tests/run.sh installs it)");
        return;
    }
    let tmp = std::env::temp_dir().join(format!("synack-tshark-mutant-{}", std::process::id()));
    let _guard = DirGuard(tmp.clone());
    std::fs::create_dir_all(&tmp).unwrap();
    let mut bytes = std::fs::read(root().join("pcaps/telnet/capture.pcap")).unwrap();
    // The first IPv4/TCP frame with data: flip the last byte of its payload.
    let (mut at, mut number, mut changed) = (24, 0u64, None);
    while at + 16 <= bytes.len() {
        let caplen = u32::from_ne_bytes(bytes[at + 8..at + 12].try_into().unwrap()) as usize;
        let f = at + 16;
        number += 1;
        let frame = &bytes[f..f + caplen];
        if frame.len() > 54 && frame[12..14] == [8, 0] && frame[23] == 6 {
            let ip_end = 14 + u16::from_be_bytes([frame[16], frame[17]]) as usize;
            let data_at = 14 + (frame[14] & 0x0f) as usize * 4 + (frame[46] >> 4) as usize * 4;
            if ip_end > data_at && ip_end <= frame.len() {
                bytes[f + ip_end - 1] ^= 0x01;
                changed = Some(number);
                break;
            }
        }
        at = f + caplen;
    }
    let changed = changed.expect("the telnet capture carries TCP data");
    let file = tmp.join("capture.pcap");
    std::fs::write(&file, &bytes).unwrap();
    let report = tshark::report(&file);
    assert_eq!(report.bad_checksums, [changed], "{report:?}");
    assert!(!report.errors().is_empty(), "a bad checksum is an expert error: {report:?}");
}

/// The ladder diagrams in docs/book/ladders/ (SVG and text) are made from
/// pcaps/ by `docs/ladders.sh`; they must be what the recordings make now.
#[test]
fn the_books_ladders_are_current() {
    let ladders = root().join("docs/book/ladders");
    let tmp = std::env::temp_dir().join(format!("synack-ladders-{}", std::process::id()));
    let _guard = DirGuard(tmp.clone());
    std::fs::create_dir_all(&tmp).unwrap();
    let mut checked = 0;
    for dir in recordings() {
        let name = dir.file_name().unwrap().to_str().unwrap().to_string();
        let want = ladders.join(format!("{name}.svg"));
        let got = tmp.join(format!("{name}.svg"));
        let out = synack(&["ladder", dir.to_str().unwrap(), "-o", got.to_str().unwrap()]);
        if !out.success() {
            // No TCP in this capture: no ladder, and none in the book.
            assert!(!want.exists(), "{} has no TCP but the book has {}", dir.display(), want.display());
            continue;
        }
        let got = std::fs::read_to_string(&got).unwrap();
        let have = std::fs::read_to_string(&want)
            .unwrap_or_else(|_| panic!("{} is missing: run docs/ladders.sh", want.display()));
        assert!(got == have, "{} is stale: run docs/ladders.sh", want.display());
        let text = synack(&["ladder", dir.to_str().unwrap()]);
        let want_txt = ladders.join(format!("{name}.txt"));
        let have_txt = std::fs::read_to_string(&want_txt)
            .unwrap_or_else(|_| panic!("{} is missing: run docs/ladders.sh", want_txt.display()));
        assert!(text.stdout == have_txt, "{} is stale: run docs/ladders.sh", want_txt.display());
        checked += 1;
    }
    assert!(checked >= 6, "ladders checked: {checked}");
}

/// Removes a directory on Drop (also when the test panics).
struct DirGuard(PathBuf);
impl Drop for DirGuard {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
