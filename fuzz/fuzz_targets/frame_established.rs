//! A sequence of frames (records: see the crate docs) into a stack that is
//! listening, with one connection established and 20 kB of ours in flight.
#![no_main]

use libfuzzer_sys::fuzz_target;
use synack_fuzz::Lab;

fuzz_target!(|data: &[u8]| {
    Lab::established().run_frames(data);
});
