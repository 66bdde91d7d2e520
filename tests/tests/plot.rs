//! `synack plot` (apps/src/plot/): the plots of what the wire cannot show.
//!
//! 1. On recordings in pcaps/ it exits 0 and writes SVG files that an XML
//!    parser (roxmltree) reads: an `<svg>` root with lines, paths and
//!    rectangles in it, and a CSV with one row per sample.
//! 2. The scripted loss of issue 17: the host pulls 10 MB from chargen
//!    while `synack up -q -v --record DIR --faults "drop out tcp data #200"`
//!    runs in a namespace; `synack plot DIR` then shows, in its CSV (not
//!    in pixels), the dropped segment sent again (a Tx row marked
//!    retransmission at the sequence number the fault line names) and
//!    cwnd cut at that moment to what synack's own trace reported (CUBIC's
//!    loss line and PRR's first step), with ssthresh = 0.7 × cwnd.
//! 3. The book's plots (docs/book/plots/) are what `synack plot` makes now
//!    from the committed recording pcaps/cwnd-loss: they cannot go stale.
//!
//! Test 2 needs root (a namespace and a TAP); without it it prints a loud
//! SKIPPED message, except under `CI=true`, where that is a failure.

use std::collections::HashMap;
use std::io::Read;
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};
use synack_tests::{interop_allowed, synack_bin, Netns, Synack};

/// A temporary directory, removed on Drop.
struct TempDir(PathBuf);
impl TempDir {
    fn new(tag: &str) -> TempDir {
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let p = std::env::temp_dir().join(format!("synack-plot-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).expect("temp dir");
        TempDir(p)
    }
    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}
impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("workspace").to_path_buf()
}

/// `synack plot ARGS…`, bounded: (exit ok, stdout + stderr).
fn synack_plot(args: &[&str]) -> (bool, String) {
    let mut cmd = Command::new(synack_bin());
    cmd.arg("plot").args(args);
    let out = synack_tests::run_bounded(cmd, Duration::from_secs(120)).expect("run synack plot");
    (out.success(), out.text())
}

/// The four SVGs of connection `id` in `dir` parse as XML with an `<svg>`
/// root and drawing in it; returns the number of drawing elements.
fn check_svgs(dir: &Path, id: u64) -> usize {
    let mut total = 0;
    for kind in ["tseq", "cwnd", "rtt", "buffers"] {
        let p = dir.join(format!("conn-{id}-{kind}.svg"));
        let text = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        let doc = roxmltree::Document::parse(&text).unwrap_or_else(|e| panic!("{}: not XML: {e}", p.display()));
        let root = doc.root_element();
        assert_eq!(root.tag_name().name(), "svg", "{}", p.display());
        assert_eq!(root.tag_name().namespace(), Some("http://www.w3.org/2000/svg"));
        let count = |tag: &str| root.descendants().filter(|n| n.tag_name().name() == tag).count();
        let (paths, lines, rects, texts) = (count("path"), count("line"), count("rect"), count("text"));
        assert!(paths >= 1, "{}: no <path>", p.display());
        assert!(lines >= 4 && rects >= 2 && texts >= 6, "{}: {lines} lines {rects} rects {texts} texts", p.display());
        let title = root.descendants().find(|n| n.tag_name().name() == "title").and_then(|n| n.text());
        assert!(title.is_some_and(|t| t.starts_with(&format!("conn {id} "))), "{}: title {title:?}", p.display());
        total += paths + lines + rects;
    }
    total
}

/// A CSV as (header, rows of name → value).
fn read_csv(p: &Path) -> Vec<HashMap<String, String>> {
    let text = std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    let mut lines = text.lines();
    let header: Vec<String> = lines.next().expect("header").split(',').map(String::from).collect();
    assert!(header.len() > 20 && header[0] == "t_ms" && header[1] == "kind");
    lines
        .map(|l| {
            let v: Vec<&str> = l.split(',').collect();
            assert_eq!(v.len(), header.len(), "row {l}");
            header.iter().cloned().zip(v.iter().map(|s| s.to_string())).collect()
        })
        .collect()
}

#[test]
fn plot_writes_valid_svg_for_recordings_in_pcaps() {
    for (rec, min_rows) in [("tcp-retransmit", 10), ("zero-window", 1000)] {
        let out = TempDir::new(rec);
        let dir = repo().join("pcaps").join(rec);
        let (ok, text) = synack_plot(&[dir.to_str().unwrap(), "-o", out.0.to_str().unwrap()]);
        assert!(ok, "synack plot {rec}:\n{text}");
        assert!(text.contains("conn 1: "), "{text}");
        let drawn = check_svgs(&out.0, 1);
        let rows = read_csv(&out.path("conn-1.csv"));
        assert!(rows.len() >= min_rows, "{rec}: {} rows", rows.len());
        eprintln!("plot {rec}: {} CSV rows, {drawn} SVG elements", rows.len());
        // What each recording is about is in its data.
        match rec {
            "tcp-retransmit" => {
                // The dropped segment went again (as a tail loss probe,
                // RFC 8985 §7.3, before any RTO): marked, at its first seq.
                let rtx = rows.iter().find(|r| r["kind"] == "tx" && r["retrans"] == "1").expect("a retransmission");
                let first = rows.iter().find(|r| r["kind"] == "tx" && r["seq"] == rtx["seq"] && r["len"] == rtx["len"]);
                let t = |r: &HashMap<String, String>| r["t_ms"].parse::<f64>().unwrap();
                assert!(first.is_some_and(|f| f["retrans"] == "0" && t(f) < t(rtx)), "{rtx:?}");
            }
            _ => assert!(rows.iter().any(|r| r["kind"] == "rx" && r["win"] == "0"), "a zero window"),
        }
    }
    // --conn picks one; an unknown one fails.
    let out = TempDir::new("conn");
    let dir = repo().join("pcaps/tcp-retransmit");
    let (ok, _) = synack_plot(&[dir.to_str().unwrap(), "--conn", "1", "-o", out.0.to_str().unwrap()]);
    assert!(ok && out.path("conn-1-rtt.svg").is_file());
    let (ok, text) = synack_plot(&[dir.to_str().unwrap(), "--conn", "7", "-o", out.0.to_str().unwrap()]);
    assert!(!ok && text.contains("no connection 7"), "{text}");
    // A bare pcap replays against synack with default arguments.
    let pcap = repo().join("pcaps/telnet/capture.pcap");
    let (ok, text) = synack_plot(&[pcap.to_str().unwrap(), "-o", out.0.to_str().unwrap()]);
    assert!(ok && text.contains("conn 1: "), "{text}");
    check_svgs(&out.0, 1);
    // No TCP, or nothing there: a failure that says so.
    let (ok, text) = synack_plot(&[repo().join("pcaps/ping").to_str().unwrap(), "-o", out.0.to_str().unwrap()]);
    assert!(!ok && text.contains("no TCP connection"), "{text}");
    let (ok, text) = synack_plot(&["/nonexistent/recording", "-o", out.0.to_str().unwrap()]);
    assert!(!ok && text.contains("/nonexistent/recording: no such recording"), "{text}");
}

/// The numbers after `key` in `line` (`cwnd 1234` → 1234).
fn number_after(line: &str, key: &str) -> Option<u64> {
    let rest = &line[line.find(key)? + key.len()..];
    let digits: String = rest.trim_start().chars().take_while(|c| c.is_ascii_digit()).collect();
    digits.parse().ok()
}

#[test]
fn a_scripted_loss_shows_in_the_plot_data() {
    if !interop_allowed("a_scripted_loss_shows_in_the_plot_data") {
        return;
    }
    const LEN: usize = 10 * 1000 * 1000;
    let work = TempDir::new("loss");
    let rec = work.path("rec");
    let ns = Netns::without_ipv6();
    let mut s = Synack::up(&ns, &["-q", "-v", "--record", rec.to_str().unwrap(), "--faults", "drop out tcp data #200"]);
    // The host pulls 10 MB from chargen, then closes.
    let to: SocketAddr = "10.0.0.2:19".parse().unwrap();
    let got = ns
        .run_in(move || {
            let mut c = TcpStream::connect_timeout(&to, Duration::from_secs(5))?;
            c.set_read_timeout(Some(Duration::from_secs(5)))?;
            let deadline = Instant::now() + Duration::from_secs(60);
            let mut buf = vec![0u8; 256 * 1024];
            let mut n = 0;
            while n < LEN && Instant::now() < deadline {
                match c.read(&mut buf)? {
                    0 => break,
                    k => n += k,
                }
            }
            Ok(n)
        })
        .expect("pull from chargen");
    assert!(got >= LEN, "only {got} bytes from chargen:\n{}", s.output());
    // The connection closes (the host's FIN, synack's RST or FIN), then synack stops.
    std::thread::sleep(Duration::from_millis(500));
    assert!(s.stop().is_some_and(|e| e.success()), "synack did not stop cleanly");
    let lines = s.lines();

    // The fault and what the trace said about the loss.
    let fault = lines.iter().find(|l| l.contains("fault: drop out tcp data #200")).expect("the fault fired");
    // `… seq A:B)`: tcpdump's relative numbers, as the CSV's.
    let seq = fault.rsplit("seq ").next().unwrap().trim_end_matches(')');
    let (a, b) = seq.split_once(':').expect("seq A:B");
    let (lost_seq, lost_end): (u64, u64) = (a.parse().unwrap(), b.parse().unwrap());
    let after: Vec<&String> = lines.iter().skip_while(|l| !l.contains("fault: drop out")).collect();
    let loss = after.iter().find(|l| l.contains("cubic: loss at cwnd")).expect("CUBIC's loss line");
    let cwnd_at_loss = number_after(loss, "loss at cwnd").unwrap();
    let ssthresh = number_after(loss, ", ssthresh").unwrap();
    let prr = after.iter().find(|l| l.contains(": PRR: ")).expect("PRR's first line");
    let cut_to = number_after(prr, "->").unwrap();
    let prr_from = number_after(prr, ", cwnd").unwrap();
    eprintln!("trace: {}\ntrace: {}\ntrace: {}", fault.trim(), loss.trim(), prr.trim());

    // The plot, from the recording, replayed.
    let out = work.path("out");
    let (ok, text) = synack_plot(&[rec.to_str().unwrap(), "-o", out.to_str().unwrap()]);
    assert!(ok, "synack plot:\n{text}");
    assert_eq!(text.lines().filter(|l| l.starts_with("conn ")).count(), 1, "one connection: {text}");
    check_svgs(&out, 1);
    let rows = read_csv(&out.join("conn-1.csv"));
    let num = |r: &HashMap<String, String>, k: &str| r[k].parse::<u64>().unwrap_or_else(|_| panic!("{k}: {:?}", r[k]));
    let delivered: u64 = rows.iter().filter(|r| r["kind"] == "tx" && r["retrans"] == "0").map(|r| num(r, "len")).sum();
    assert!(delivered >= LEN as u64, "the data sent: {delivered}");

    // The dropped segment: sent once as new data, then again, marked.
    let at: Vec<&HashMap<String, String>> =
        rows.iter().filter(|r| r["kind"] == "tx" && num(r, "seq") == lost_seq && num(r, "len") > 0).collect();
    assert!(at.len() >= 2, "segment {lost_seq} sent {} time(s)", at.len());
    assert_eq!(at[0]["retrans"], "0");
    assert_eq!(at[1]["retrans"], "1");
    assert_eq!(num(at[1], "seq") + num(at[1], "len"), lost_end, "the same bytes again");
    let first_rtx = rows.iter().position(|r| r["retrans"] == "1").unwrap();
    assert_eq!(num(&rows[first_rtx], "seq"), lost_seq, "the first retransmission is the dropped segment");

    // cwnd at the loss: the first sample with an ssthresh is the loss
    // instant; there cwnd has fallen to what PRR's trace line says, from
    // the cwnd CUBIC's line reports, and ssthresh is that line's.
    let i = rows.iter().position(|r| !r["ssthresh"].is_empty()).expect("an ssthresh after the loss");
    let (before, at_loss) = (&rows[i - 1], &rows[i]);
    eprintln!(
        "csv: t {} ms: cwnd {} -> {} ({}), ssthresh {}, W_max {}; retransmission of {lost_seq}:{lost_end} at {} ms",
        at_loss["t_ms"],
        before["cwnd"],
        at_loss["cwnd"],
        at_loss["ca_state"],
        at_loss["ssthresh"],
        at_loss["w_max"],
        at[1]["t_ms"]
    );
    assert_eq!(num(at_loss, "ssthresh"), ssthresh, "ssthresh as the trace reports");
    assert_eq!(num(at_loss, "cwnd"), cut_to, "cwnd cut to PRR's value");
    assert_eq!(prr_from, cwnd_at_loss, "PRR starts from the cwnd at the loss");
    assert!(num(before, "cwnd") <= cwnd_at_loss && num(before, "cwnd") > cut_to, "a drop at the loss instant");
    assert_eq!(at_loss["ca_state"], "recovery");
    assert_eq!(num(at_loss, "w_max"), cwnd_at_loss, "CUBIC's W_max is the cwnd at the loss");
    assert!((ssthresh as f64 - 0.7 * cwnd_at_loss as f64).abs() < 2.0, "β = 0.7");
    // The retransmission went at the loss instant, with the cut cwnd.
    assert_eq!(at[1]["t_ms"], at_loss["t_ms"]);
}

/// docs/book/plots/REC-KIND.svg is what `synack plot pcaps/REC --conn 1`
/// makes now (docs/book/plots/make.sh draws them).
#[test]
fn the_book_plots_are_what_synack_plot_makes_now() {
    let book = repo().join("docs/book/plots");
    let mut names: Vec<String> = std::fs::read_dir(&book)
        .expect("docs/book/plots")
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".svg"))
        .collect();
    names.sort();
    let out = TempDir::new("book");
    let mut made: HashMap<String, PathBuf> = HashMap::new();
    for name in &names {
        let stem = name.trim_end_matches(".svg");
        let (rec, kind) = stem.rsplit_once('-').unwrap_or_else(|| panic!("{name}: want REC-KIND.svg"));
        let dir = made.entry(rec.to_string()).or_insert_with(|| {
            let dir = out.path(rec);
            let pcaps = repo().join("pcaps").join(rec);
            let (ok, text) = synack_plot(&[pcaps.to_str().unwrap(), "--conn", "1", "-o", dir.to_str().unwrap()]);
            assert!(ok, "synack plot pcaps/{rec}:\n{text}");
            dir
        });
        let fresh = std::fs::read_to_string(dir.join(format!("conn-1-{kind}.svg")))
            .unwrap_or_else(|e| panic!("{name}: no plot {kind}: {e}"));
        let committed = std::fs::read_to_string(book.join(name)).unwrap();
        assert!(committed == fresh, "docs/book/plots/{name} is stale: run docs/book/plots/make.sh and commit it");
    }
    // The chapters' plots: CUBIC's loss, and the zero window.
    for want in ["cwnd-loss-tseq.svg", "cwnd-loss-cwnd.svg", "cwnd-loss-rtt.svg", "zero-window-tseq.svg"] {
        assert!(names.iter().any(|n| n == want), "docs/book/plots/{want} is missing");
    }
    eprintln!("book plots current: {}", names.join(" "));
}
