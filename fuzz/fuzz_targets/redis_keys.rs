#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| wharf_config::fuzz_logic::redis_keys(data));
