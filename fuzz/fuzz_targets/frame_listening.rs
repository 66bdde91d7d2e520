//! A sequence of frames (records: see the crate docs) into a stack that is
//! listening on TCP 80 and UDP 7.
#![no_main]

use libfuzzer_sys::fuzz_target;
use synack_fuzz::Lab;

fuzz_target!(|data: &[u8]| {
    Lab::listening().run_frames(data);
});
