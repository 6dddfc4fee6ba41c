#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| wharf_upstream::fuzz_logic::upstream_answers(data));
