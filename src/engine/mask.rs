//! Values the predictor does not code: NaN and ±infinity (kept bit-exact), and under a
//! point-wise relative bound the values that decode as zero (exact zeros, and those within
//! the absolute floor). They are left out of prediction: the predictor passes over them,
//! holding its own prediction there, so they cost no symbol and do not disturb neighbours.
//!
//! A block records the classes as runs (`class byte, varint length`), LZ4-compressed when
//! that is smaller; a block without such values records nothing.
#![forbid(unsafe_code)]

use crate::entropy::{read_varint, write_varint};
use crate::error::{Error, Result};

/// A value coded by prediction and quantization.
pub const CODED: u8 = 0;
/// A value decoded as a (signed) zero.
pub const ZERO: u8 = 1;
/// NaN or infinity, stored bit-exact.
pub const NON_FINITE: u8 = 2;

/// Appends the runs of `classes` to `out`.
pub fn write_runs(classes: &[u8], out: &mut Vec<u8>) {
    let mut i = 0;
    while i < classes.len() {
        let c = classes[i];
        let start = i;
        while i < classes.len() && classes[i] == c {
            i += 1;
        }
        out.push(c);
        write_varint(out, (i - start) as u64);
    }
}

/// Reads runs covering exactly `classes.len()` values into `classes`.
pub fn read_runs(mut input: &[u8], classes: &mut [u8]) -> Result<()> {
    let mut at = 0usize;
    while !input.is_empty() {
        let c = input[0];
        input = &input[1..];
        if c > NON_FINITE {
            return Err(Error::CorruptBlock(format!("value class {c}")));
        }
        let len = read_varint(&mut input)? as usize;
        let end = at
            .checked_add(len)
            .filter(|&e| e <= classes.len() && len > 0)
            .ok_or_else(|| Error::CorruptBlock("value classes overrun the block".into()))?;
        classes[at..end].fill(c);
        at = end;
    }
    if at != classes.len() {
        return Err(Error::CorruptBlock(format!(
            "value classes cover {at} of {} values",
            classes.len()
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_round_trip_and_are_checked() {
        let classes = [0, 0, 2, 2, 2, 1, 0, 0, 0, 2];
        let mut out = Vec::new();
        write_runs(&classes, &mut out);
        let mut got = [9u8; 10];
        read_runs(&out, &mut got).unwrap();
        assert_eq!(got, classes);
        let mut short = [0u8; 9];
        assert!(read_runs(&out, &mut short).is_err());
        let mut long = [0u8; 11];
        assert!(read_runs(&out, &mut long).is_err());
        assert!(read_runs(&[7, 1], &mut [0u8]).is_err());
    }
}
