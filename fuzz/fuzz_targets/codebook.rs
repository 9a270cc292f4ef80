//! Parsing a `vq` metalayer: any bytes give a codebook or an error, never a panic; a parsed
//! codebook serializes back to itself and prepares without trouble.
#![no_main]
use blosc2_vq::codebook::{Codebook, PreparedCodebook};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(cb) = Codebook::from_msgpack(data) {
        let again = Codebook::from_msgpack(&cb.to_msgpack()).expect("a valid codebook re-parses");
        assert_eq!(again, cb);
        let _ = PreparedCodebook::new(cb).unwrap();
    }
});
