//! Any bytes, read as text (invalid UTF-8 replaced), into the packetdrill
//! script parser: it returns a script or a line-numbered error, never
//! panics, and the error's line is within the text.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Err(e) = apps::drill::parse::parse(&text) {
        let lines = text.lines().count().max(1);
        assert!(e.line >= 1 && e.line <= lines + 1, "line {} of a {lines}-line text: {e}", e.line);
    }
});
