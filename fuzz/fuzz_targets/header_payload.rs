//! Fuzz RPM header parsing and payload streaming (rpm-package): arbitrary bytes must never
//! panic, hang or allocate without bound.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    rpm_package::fuzzing::parse_and_stream(data);
});
