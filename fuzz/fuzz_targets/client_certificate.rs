#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| wharf_middleware::fuzz_logic::client_certificate(data));
