//! A sequence of always-well-formed TCP segments of one established
//! connection (data in flight both ways), with the application's sends,
//! shutdowns and closes and the clock's advances in between.
#![no_main]

use libfuzzer_sys::fuzz_target;
use synack_fuzz::Lab;

fuzz_target!(|data: &[u8]| {
    Lab::established().run_segments(data);
});
