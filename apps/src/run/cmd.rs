//! `synack run [--tap NAME] -- CMD ARGS…`: find the `synack up` to use
//! (its control socket, run/mod.rs), find the library next to this
//! executable (`libsynack_preload.so`, built from apps/preload/), and
//! exec CMD with `LD_PRELOAD` and `SYNACK_CTL` set (ld.so(8)).

use std::ffi::OsString;
use std::io;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, ExitCode};

/// The library's file name, next to the `synack` executable.
pub const PRELOAD_LIB: &str = "libsynack_preload.so";

/// The control socket to use: the one for `tap`, or the only one there is.
pub fn find_socket(tap: Option<&str>) -> Result<PathBuf, String> {
    let dir = super::run_dir();
    let path = match tap {
        Some(t) => super::socket_path(t),
        None => {
            let mut socks: Vec<PathBuf> = std::fs::read_dir(&dir)
                .map(|d| d.flatten().map(|e| e.path()).filter(|p| p.extension().is_some_and(|x| x == "sock")).collect())
                .unwrap_or_default();
            socks.sort();
            match socks.len() {
                0 => return Err(format!("no synack up is running (no control socket in {})", dir.display())),
                1 => socks.remove(0),
                _ => {
                    let names: Vec<String> =
                        socks.iter().filter_map(|p| p.file_stem()).map(|s| s.to_string_lossy().into_owned()).collect();
                    return Err(format!("several synack up are running ({}): pick one with --tap", names.join(", ")));
                }
            }
        }
    };
    match super::sys::seqpacket_connect(&path) {
        Ok(_) => Ok(path),
        Err(e) => Err(format!("no synack up is running on {} ({e})", path.display())),
    }
}

/// `synack run`: only returns on failure (else CMD replaces this process).
pub fn run(tap: Option<&str>, cmd: &[OsString]) -> io::Result<ExitCode> {
    let Some((prog, args)) = cmd.split_first() else {
        eprintln!("synack run: no command: synack run [--tap NAME] -- CMD ARGS...");
        return Ok(ExitCode::from(2));
    };
    let sock = match find_socket(tap) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("synack run: {e}");
            return Ok(ExitCode::FAILURE);
        }
    };
    let exe = std::env::current_exe()?;
    let lib = exe.with_file_name(PRELOAD_LIB);
    if !lib.is_file() {
        eprintln!("synack run: {} not found: build it with `cargo build --release -p synack-preload`", lib.display());
        return Ok(ExitCode::FAILURE);
    }
    let mut preload = OsString::from(&lib);
    if let Some(old) = std::env::var_os("LD_PRELOAD").filter(|o| !o.is_empty()) {
        preload.push(":");
        preload.push(old);
    }
    let e = Command::new(prog).args(args).env("LD_PRELOAD", preload).env("SYNACK_CTL", &sock).exec();
    eprintln!("synack run: {}: {e}", prog.to_string_lossy());
    Ok(ExitCode::from(127))
}
