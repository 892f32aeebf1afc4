//! The MySQL connection loop (crates/mysql `serve_connection`) on any bytes from the client:
//! packet framing, the handshake response (HandshakeResponse41, SSLRequest, pre-4.1, the auth
//! switch) and, after a login, the commands. No panic, whatever the bytes; the loop ends.
//!
//! Input: byte 0 = read size (1..=256) and the packet limit (bit 7: 64 bytes, else 64 KiB);
//! the rest is what the client sends after the greeting.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&knobs, input)) = data.split_first() else {
        return;
    };
    let max_packet = if knobs & 0x80 != 0 { 64 } else { 64 << 10 };
    tessera_fuzz::serve(input.to_vec(), usize::from(knobs & 0x7f) + 1, max_packet);
});
