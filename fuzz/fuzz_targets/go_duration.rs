#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| wharf_model::fuzz_logic::go_duration(data));
