//! History's bounds, incarnations and exports; the plots' SVG.

use super::*;
use stack::Duration;
use std::net::Ipv4Addr;

fn addr(ip: u8, port: u16) -> SocketAddrV4 {
    SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, ip), port)
}

/// A sample of a connection from 10.0.0.2:19 to 10.0.0.1:`port`.
fn probe(port: u16, iss: u32, at: Instant, kind: ProbeKind) -> TcpProbe {
    TcpProbe {
        at,
        kind,
        local: addr(2, 19),
        remote: addr(1, port),
        iss,
        irs: 5000,
        state: TcpState::Established,
        seq: iss,
        len: 0,
        flags: 0x10,
        retrans: false,
        zero_window_probe: false,
        ack: 5001,
        win: 65535,
        sack: [(0, 0); 4],
        nsack: 0,
        snd_una: iss,
        snd_nxt: iss,
        rcv_nxt: 5001,
        cwnd: 14480,
        ssthresh: u32::MAX,
        in_flight: 0,
        ca_state: CaState::Open,
        w_max: None,
        k: None,
        epoch_start: None,
        srtt_us: 1000,
        rttvar_us: 500,
        rto_us: 200_000,
        rtt_sample_us: None,
        backoff: 0,
        snd_wnd: 65535,
        rcv_wnd: 65535,
        recv_q: 0,
        send_q: 0,
        ofo_bytes: 0,
    }
}

/// A 5-minute bulk transfer's samples at 2,000 a second (virtual time): a
/// data segment out and an ACK in every millisecond, a loss and its
/// retransmission every 10 s with the cwnd cut, a timeout every minute.
fn five_minutes(h: &mut History) -> (Instant, Instant) {
    let start = Instant::from_secs(10);
    let mut seq = 1000u32;
    let mut cwnd = 14480u32;
    let mut ms = 0u64;
    while ms < 300_000 {
        let at = start + Duration::from_millis(ms);
        let mut tx = probe(40000, 1000, at, ProbeKind::Tx);
        tx.seq = seq;
        tx.len = 1448;
        tx.cwnd = cwnd;
        tx.retrans = ms % 10_000 == 5_000;
        if !tx.retrans {
            seq = seq.wrapping_add(1448);
        }
        h.record(&tx);
        let mut rx = probe(40000, 1000, at + Duration::from_micros(500), ProbeKind::Rx);
        rx.ack = seq;
        cwnd = if ms % 10_000 == 5_000 { cwnd * 7 / 10 } else { cwnd + 100 };
        rx.cwnd = cwnd;
        rx.rtt_sample_us = Some(1000 + (ms % 7) as u32);
        h.record(&rx);
        if ms % 60_000 == 30_000 {
            let mut rto = probe(40000, 1000, at + Duration::from_micros(700), ProbeKind::Rto);
            rto.backoff = 1;
            h.record(&rto);
        }
        ms += 1;
    }
    (start, start + Duration::from_millis(299_999) + Duration::from_micros(500))
}

#[test]
fn a_five_minute_transfer_stays_bounded_and_keeps_its_shape() {
    let limits = HistoryLimits::default();
    let mut h = History::new(limits);
    let (start, end) = five_minutes(&mut h);
    let c = h.get(1).expect("connection 1");
    // 600,000 samples went in; at most a ring's worth stays.
    assert!(c.points().len() <= limits.points_per_conn, "{}", c.points().len());
    assert!(c.points().len() >= limits.points_per_conn / 2, "decimation keeps at least half");
    assert!(c.decimated > 590_000, "{}", c.decimated);
    eprintln!(
        "5 minutes, 600,005 samples: {} points kept, {} decimated, {} bytes (Point: {} bytes)",
        c.points().len(),
        c.decimated,
        h.bytes(),
        std::mem::size_of::<Point>()
    );
    let bound = 4096 + limits.points_per_conn * std::mem::size_of::<Point>() * 2;
    assert!(h.bytes() < bound, "{} bytes, bound {bound}", h.bytes());
    assert!(h.bytes() < 2 << 20, "{} bytes for one connection", h.bytes());
    // The whole run is still there: from its first sample to its last.
    assert_eq!(c.first(), Some(start));
    assert_eq!(c.last(), Some(end));
    // Spread evenly over it: no gap longer than 1/1000 of the run, and
    // the last half second with every sample (one each 0.5 ms).
    let gaps: Vec<(u64, Instant)> =
        c.points().windows(2).map(|w| (w[1].at.total_micros() - w[0].at.total_micros(), w[1].at)).collect();
    let gap = gaps.iter().map(|g| g.0).max().unwrap();
    assert!(gap < 300_000, "largest gap {gap} µs");
    let recent = gaps.iter().filter(|g| g.1 > end - Duration::from_millis(500)).map(|g| g.0).max().unwrap();
    assert!(recent <= 500, "largest gap in the last half second {recent} µs");
    // Every retransmission (30) and every timeout (5) kept.
    assert_eq!(c.points().iter().filter(|p| p.retrans).count(), 30);
    assert_eq!(c.points().iter().filter(|p| p.kind == ProbeKind::Rto).count(), 5);
    // The plots span the run: the time axis reaches 5 minutes.
    let svg = render_svg(PlotKind::Cwnd, c);
    assert!(svg.contains(">300 s<") || svg.contains(">250 s<"), "time axis ticks");
}

#[test]
fn incarnations_get_new_ids_and_closed_ones_are_forgotten_first() {
    let mut h = History::new(HistoryLimits { points_per_conn: 64, conns: 3, ..HistoryLimits::default() });
    let t = |s| Instant::from_secs(s);
    h.record(&probe(1, 100, t(1), ProbeKind::Tx));
    h.record(&probe(2, 200, t(2), ProbeKind::Tx));
    // The same 4-tuple with another ISS: a new connection.
    h.record(&probe(1, 300, t(3), ProbeKind::Tx));
    assert_eq!(h.conns().iter().map(|c| c.id).collect::<Vec<_>>(), vec![1, 2, 3]);
    assert_eq!(h.id_of(addr(2, 19), addr(1, 1)), Some(3));
    assert_eq!(h.get(3).unwrap().iss, 300);
    // A listener's samples are not a connection.
    let mut l = probe(0, 7, t(3), ProbeKind::State);
    l.state = TcpState::Listen;
    l.remote = SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0);
    h.record(&l);
    assert_eq!(h.conns().len(), 3);
    // Connection 2 closes; connection 1 is older but open... both are
    // candidates only once closed: 2 goes, though 1 was updated earlier.
    let mut closed = probe(2, 200, t(4), ProbeKind::State);
    closed.state = TcpState::Closed;
    h.record(&closed);
    h.record(&probe(3, 400, t(5), ProbeKind::Tx));
    assert_eq!(h.conns().iter().map(|c| c.id).collect::<Vec<_>>(), vec![1, 3, 4]);
    assert_eq!(h.id_of(addr(2, 19), addr(1, 2)), None);
    // None closed: the least recently updated goes.
    h.record(&probe(4, 500, t(6), ProbeKind::Tx));
    assert_eq!(h.conns().iter().map(|c| c.id).collect::<Vec<_>>(), vec![3, 4, 5]);
    // Many connections, one sample each: never more than the limit.
    for i in 0..1000u16 {
        h.record(&probe(100 + i, u32::from(i), t(10 + u64::from(i)), ProbeKind::Tx));
    }
    assert_eq!(h.conns().len(), 3);
    assert_eq!(h.conns().last().unwrap().id, 1005);
}

#[test]
fn json_and_csv_carry_every_point_relative_to_iss() {
    let mut h = History::new(HistoryLimits::default());
    let mut tx = probe(9, 4_294_967_000, Instant::from_millis(1500), ProbeKind::Tx);
    tx.seq = 4_294_967_000u32.wrapping_add(1000); // across the wrap
    tx.len = 1448;
    tx.retrans = true;
    h.record(&tx);
    let mut rx = probe(9, 4_294_967_000, Instant::from_millis(1510), ProbeKind::Rx);
    rx.ack = 4_294_967_000u32.wrapping_add(2448);
    rx.sack[0] = (4_294_967_000u32.wrapping_add(3896), 4_294_967_000u32.wrapping_add(5344));
    rx.nsack = 1;
    rx.ssthresh = 20000;
    rx.rtt_sample_us = Some(1234);
    h.record(&rx);
    let c = h.get(1).unwrap();
    let j: serde_json::Value = serde_json::from_str(&c.to_json(None)).unwrap();
    assert_eq!(j["id"], 1);
    assert_eq!(j["t0_ms"], 1500.0);
    let pts = j["points"].as_array().unwrap();
    assert_eq!(pts.len(), 2);
    assert_eq!(pts[0]["kind"], "tx");
    assert_eq!(pts[0]["seq"], 1000);
    assert_eq!(pts[0]["retrans"], true);
    assert_eq!(pts[0]["ssthresh"], serde_json::Value::Null, "infinite: null");
    assert_eq!(pts[1]["ack"], 2448);
    assert_eq!(pts[1]["sack"][0][0], 3896);
    assert_eq!(pts[1]["ssthresh"], 20000);
    assert_eq!(pts[1]["rtt_us"], 1234);
    let since: serde_json::Value = serde_json::from_str(&c.to_json(Some(Instant::from_millis(1505)))).unwrap();
    assert_eq!(since["points"].as_array().unwrap().len(), 1);

    let csv = c.to_csv();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 3);
    let cols: Vec<&str> = lines[0].split(',').collect();
    let row: Vec<&str> = lines[1].split(',').collect();
    assert_eq!(cols.len(), row.len());
    let col = |name: &str, row: &[&str]| row[cols.iter().position(|c| *c == name).unwrap()].to_string();
    assert_eq!(col("seq", &row), "1000");
    assert_eq!(col("retrans", &row), "1");
    assert_eq!(col("ssthresh", &row), "");
    let row2: Vec<&str> = lines[2].split(',').collect();
    assert_eq!(col("sack", &row2), "3896-5344");
    assert_eq!(col("t_ms", &row2), "1510.000");
}

#[test]
fn every_plot_is_an_svg_document_with_data() {
    let mut h = History::new(HistoryLimits { points_per_conn: 512, conns: 4, ..HistoryLimits::default() });
    five_minutes(&mut h);
    let c = h.get(1).unwrap();
    for kind in PlotKind::ALL {
        let svg = render_svg(kind, c);
        assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""), "{}", kind.name());
        assert!(svg.trim_end().ends_with("</svg>"));
        assert!(svg.contains("conn 1  10.0.0.2:19"), "title names the connection");
        assert!(svg.contains("class=\"legend\""));
        assert!(svg.contains("<path d=\"M"), "{} draws lines", kind.name());
        assert!(!svg.contains("NaN") && !svg.contains("inf"), "{}", kind.name());
        assert_eq!(PlotKind::parse(&format!("{}.svg", kind.name())), Some(kind));
    }
    assert!(render_svg(PlotKind::TimeSeq, c).contains(">R</text>"), "retransmissions marked");
    assert!(render_svg(PlotKind::Rtt, c).contains("RTO #1"), "timeouts marked");
    assert_eq!(PlotKind::parse("nope"), None);
    // A zoom: 100 to 110 s only, ticks there, fewer elements than the whole.
    for kind in PlotKind::ALL {
        let all = render_svg(kind, c);
        let zoom = render_svg_window(kind, c, Some((100.0, 110.0)));
        assert!(zoom.contains(">104 s<") && !zoom.contains(">200 s<"), "{}: the zoom's ticks", kind.name());
        assert!(zoom.len() < all.len(), "{}: {} vs {} bytes", kind.name(), zoom.len(), all.len());
        assert!(!zoom.contains("NaN") && !zoom.contains("inf"));
    }
    // A window outside the run, or backwards, still draws something valid.
    for w in [(400.0, 500.0), (50.0, 40.0)] {
        let svg = render_svg_window(PlotKind::Cwnd, c, Some(w));
        assert!(svg.trim_end().ends_with("</svg>") && !svg.contains("NaN"), "{w:?}");
    }
    // A connection with one sample still draws.
    let mut one = History::new(HistoryLimits::default());
    one.record(&probe(1, 1, Instant::from_secs(1), ProbeKind::State));
    for kind in PlotKind::ALL {
        let svg = render_svg(kind, one.get(1).unwrap());
        assert!(!svg.contains("NaN") && !svg.contains("inf"), "{}", kind.name());
    }
}

#[test]
fn a_storm_of_precious_points_is_bounded_too() {
    // Every sample a retransmission (kept whenever decimation can): the
    // ring still holds at most its size, and keeps the run's span.
    let limits = HistoryLimits { points_per_conn: 256, conns: 1, ..HistoryLimits::default() };
    let mut h = History::new(limits);
    for i in 0..100_000u64 {
        let mut p = probe(7, 1, Instant::from_millis(1000 + i), ProbeKind::Tx);
        p.retrans = true;
        p.len = 1448;
        h.record(&p);
        assert!(h.get(1).unwrap().points().len() <= 256);
    }
    let c = h.get(1).unwrap();
    assert_eq!(c.first(), Some(Instant::from_millis(1000)));
    assert_eq!(c.last(), Some(Instant::from_millis(1000 + 99_999)));
    assert!(c.points().len() >= 64, "{}", c.points().len());
    assert!(h.bytes() < 4096 + 256 * std::mem::size_of::<Point>() * 2);
}

#[test]
fn many_busy_connections_stay_within_the_budget() {
    // What a page left open makes: a connection per plot request, each a
    // thousand samples. 256 of them would hold ~40 MB of points; the
    // budget keeps 2 MB, forgetting the oldest, never the one being fed.
    let budget = 2 << 20;
    let mut h = History::new(HistoryLimits { budget, ..HistoryLimits::default() });
    let mut t = Instant::from_secs(1);
    for port in 0..256u16 {
        for _ in 0..1000 {
            t += Duration::from_micros(100);
            h.record(&probe(1000 + port, u32::from(port) * 7 + 1, t, ProbeKind::Tx));
        }
        let mut closed = probe(1000 + port, u32::from(port) * 7 + 1, t, ProbeKind::State);
        closed.state = TcpState::Closed;
        h.record(&closed);
        assert!(h.bytes() <= budget + (1 << 20), "{} bytes held after {} connections", h.bytes(), port + 1);
    }
    let kept = h.conns();
    assert!(kept.len() >= 8 && kept.len() < 256, "{} connections kept", kept.len());
    // The newest are the ones kept, whole.
    let newest = kept.last().unwrap();
    assert_eq!(newest.id, 256);
    assert_eq!(newest.points, 1001);
    // The running count is the sum it stands for.
    let sum: usize = kept.iter().map(|c| h.get(c.id).unwrap().bytes()).sum();
    assert_eq!(h.held, sum);
}
