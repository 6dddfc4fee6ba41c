#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| wharf_middleware::fuzz_logic::grpc_web_text(data));
