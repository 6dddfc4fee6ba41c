#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| wharf_edge::fuzz_logic::request(data));
