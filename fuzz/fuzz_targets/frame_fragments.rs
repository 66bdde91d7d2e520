//! A sequence of frames (records: see the crate docs) into a stack that is
//! established, with two datagrams' fragments waiting in reassembly.
#![no_main]

use libfuzzer_sys::fuzz_target;
use synack_fuzz::Lab;

fuzz_target!(|data: &[u8]| {
    Lab::fragments().run_frames(data);
});
