//! A script's shell lines as synack's configuration. packetdrill runs
//! backtick lines with `/bin/sh`; synack drill runs no shell. It knows two
//! shapes of line:
//! - `sysctl -q net.ipv4.NAME=VALUE` (several may be joined with `;` or
//!   `&&`): the Linux knob, mapped onto synack's `TcpConfig`;
//! - a path to a file of such lines (`../defaults.sh`), read relative to the
//!   script's directory.
//!
//! A knob synack has not, or a value it cannot honour (a feature it lacks
//! switched on), makes the script *skipped* with the reason: never passed.

use stack::socket::CongAlgo;
use stack::tcp::TcpConfig;
use stack::Duration;
use std::path::Path;

/// Apply one backtick command to `cfg`. `Err` is the reason to skip.
pub fn apply_command(cmd: &str, dir: &Path, cfg: &mut TcpConfig) -> Result<(), String> {
    for part in cmd.split([';', '\n']).flat_map(|p| p.split("&&")) {
        let part = part.trim();
        if part.is_empty() || part.starts_with('#') {
            continue;
        }
        let words: Vec<&str> = part.split_whitespace().collect();
        match words.as_slice() {
            ["sysctl", rest @ ..] => {
                let assignment = sysctl_assignment(rest).ok_or_else(|| format!("unsupported sysctl line `{part}`"))?;
                apply_sysctl(&assignment.0, &assignment.1, cfg)?;
            }
            [path] if path.ends_with(".sh") => {
                let file = dir.join(path);
                let text =
                    std::fs::read_to_string(&file).map_err(|e| format!("cannot read `{}`: {e}", file.display()))?;
                for line in text.lines() {
                    let line = line.trim();
                    if line.is_empty() || line.starts_with('#') {
                        continue;
                    }
                    apply_command(line, dir, cfg)?;
                }
            }
            _ => return Err(format!("shell command `{part}` (synack drill runs no shell)")),
        }
    }
    Ok(())
}

/// `-q net.ipv4.tcp_rmem="4096 131072 6291456"` → (name, value).
fn sysctl_assignment(words: &[&str]) -> Option<(String, String)> {
    let words: Vec<&str> = words.iter().copied().filter(|w| *w != "-q" && *w != "-w").collect();
    let joined = words.join(" ");
    let (name, value) = joined.split_once('=')?;
    let value = value.trim().trim_matches(|c| c == '"' || c == '\'');
    Some((name.trim().to_string(), value.to_string()))
}

/// One Linux knob onto synack's configuration.
pub fn apply_sysctl(name: &str, value: &str, cfg: &mut TcpConfig) -> Result<(), String> {
    let knob = name.strip_prefix("net.ipv4.").unwrap_or(name);
    let int = || value.parse::<u64>().map_err(|_| format!("sysctl {name}: `{value}` is not a number"));
    let flag = || int().map(|v| v != 0);
    let lacks = |what: &str| Err(format!("sysctl {name}={value}: synack has no {what}"));
    match knob {
        "tcp_timestamps" => cfg.timestamps = flag()?,
        "tcp_sack" => cfg.sack = flag()?,
        "tcp_window_scaling" => cfg.window_scaling = flag()?,
        "tcp_syncookies" => match int()? {
            0 => (cfg.syncookies, cfg.syncookies_always) = (false, false),
            1 => (cfg.syncookies, cfg.syncookies_always) = (true, false),
            2 => (cfg.syncookies, cfg.syncookies_always) = (true, true),
            _ => return Err(format!("sysctl {name}={value}: not 0, 1 or 2")),
        },
        "tcp_syn_retries" => cfg.syn_retries = int()? as u32,
        "tcp_synack_retries" => cfg.synack_retries = int()? as u32,
        "tcp_syn_linear_timeouts" => cfg.syn_linear_timeouts = int()? as u32,
        "tcp_retries2" => cfg.retries2 = int()? as u32,
        "tcp_max_syn_backlog" => cfg.max_syn_backlog = int()? as usize,
        "tcp_fin_timeout" => cfg.fin_timeout = Duration::from_secs(int()?),
        "tcp_keepalive_time" => cfg.keepalive_time = Duration::from_secs(int()?),
        "tcp_keepalive_intvl" => cfg.keepalive_intvl = Duration::from_secs(int()?),
        "tcp_keepalive_probes" => cfg.keepalive_probes = int()? as u32,
        "tcp_slow_start_after_idle" => cfg.slow_start_after_idle = flag()?,
        // 0: no tail loss probe; 3 (Linux's default) and 4: TLP.
        "tcp_early_retrans" => match int()? {
            0 => cfg.tlp = false,
            3 | 4 => cfg.tlp = true,
            _ => return lacks("early retransmit (RFC 5827)"),
        },
        // 1 (Linux's default): RACK (RFC 8985); 0: RFC 6675's DupThresh.
        // Linux's other bits (2: static reo_wnd, 4: no DupThresh) synack lacks.
        "tcp_recovery" => match int()? {
            0 => cfg.recovery_rack = false,
            1 => cfg.recovery_rack = true,
            _ => return lacks("other setting of this knob"),
        },
        "tcp_rmem" | "tcp_wmem" => {
            let v: Vec<usize> = value.split_whitespace().filter_map(|n| n.parse().ok()).collect();
            let [_min, default, max] = v[..] else {
                return Err(format!("sysctl {name}: `{value}` is not three numbers"));
            };
            // synack's rcvbuf is the window's share of Linux's buffer
            // (`tcp_full_space`: half, at the default scaling ratio).
            if knob == "tcp_rmem" {
                cfg.rcvbuf = default / 2;
                cfg.rcvbuf_max = max;
            } else {
                cfg.sndbuf = default;
                cfg.sndbuf_max = max;
            }
        }
        "tcp_congestion_control" => {
            cfg.congestion =
                CongAlgo::from_name(value).ok_or_else(|| format!("sysctl {name}: no algorithm `{value}`"))?
        }
        // Knobs whose value synack's behaviour already is; any other value
        // would need a feature synack lacks.
        "tcp_dsack" if flag()? => {}
        "tcp_ecn" if int()? == 0 => {}
        "tcp_fastopen" if int()? == 0 => {}
        "tcp_autocorking" if int()? == 0 => {}
        "tcp_min_tso_segs" if int()? == 2 => {}
        "tcp_dsack" | "tcp_ecn" | "tcp_fastopen" | "tcp_autocorking" | "tcp_min_tso_segs" => {
            return lacks("other setting of this knob")
        }
        _ => return Err(format!("sysctl {name}: a knob synack drill does not map")),
    }
    Ok(())
}
