//! Decodes arbitrary octets as an IKE message and as a bare payload chain; whatever
//! parses must re-emit to an equal message.

#![no_main]

use libfuzzer_sys::fuzz_target;
use rampart_wire::ike::{MessageRepr, PayloadType, parse_chain};

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = MessageRepr::parse(data) {
        let again = MessageRepr::parse(&m.to_vec()).expect("an emitted message parses");
        assert_eq!(again, m);
    }
    if let Some((&first, rest)) = data.split_first() {
        let _ = parse_chain(PayloadType(first), rest, 0);
    }
});
