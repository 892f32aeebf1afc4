//! The MySQL command phase (crates/mysql): after a valid login, any sequence of command
//! packets — COM_QUERY, COM_INIT_DB, COM_FIELD_LIST, COM_SET_OPTION, COM_STMT_PREPARE,
//! COM_STMT_EXECUTE with its binary parameters, COM_STMT_SEND_LONG_DATA, COM_STMT_RESET,
//! COM_STMT_CLOSE, COM_RESET_CONNECTION, unknown commands. No panic; the loop ends.
//!
//! Input: byte 0 = options (bit 0 CLIENT_MULTI_STATEMENTS, bit 1 CLIENT_DEPRECATE_EOF,
//! bit 2 a 256-byte packet limit, bits 3-7 the read size); then `[len][payload]...`
//! (tessera_fuzz::command_packets), each payload one command packet.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tessera_fuzz::{caps, command_packets, handshake_response, packet};

fuzz_target!(|data: &[u8]| {
    let Some((&knobs, commands)) = data.split_first() else {
        return;
    };
    let mut extra = 0;
    if knobs & 1 != 0 {
        extra |= caps::MULTI_STATEMENTS;
    }
    if knobs & 2 != 0 {
        extra |= caps::DEPRECATE_EOF;
    }
    let max_packet = if knobs & 4 != 0 { 256 } else { 64 << 10 };
    let mut input = Vec::new();
    packet(&mut input, 1, &handshake_response(extra));
    input.extend_from_slice(&command_packets(commands));
    tessera_fuzz::serve(input, usize::from(knobs >> 3) * 8 + 1, max_packet);
});
