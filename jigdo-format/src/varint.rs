//! The index's primitive fields: unsigned LEB128 integers, length-prefixed bytes and raw
//! SHA-256 values. Written by hand: the format is three small functions, and a reader
//! that bounds every length by the bytes actually left is what makes untrusted input safe.

use crate::FormatError;

/// Appends `value` as unsigned LEB128.
pub fn put_u(out: &mut Vec<u8>, mut value: u64) {
    loop {
        let byte = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

/// Appends a length-prefixed byte string.
pub fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    put_u(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

/// A cursor over one decoded column or section.
pub struct Reader<'a> {
    data: &'a [u8],
}

impl<'a> Reader<'a> {
    /// Reads from `data`.
    pub fn new(data: &'a [u8]) -> Self {
        Reader { data }
    }

    /// True when every byte has been read.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// Bytes not yet read.
    pub fn remaining(&self) -> usize {
        self.data.len()
    }

    /// Reads an unsigned LEB128 integer.
    pub fn u(&mut self, what: &'static str) -> Result<u64, FormatError> {
        let mut value: u64 = 0;
        for shift in (0..70).step_by(7) {
            let (&byte, rest) = self
                .data
                .split_first()
                .ok_or(FormatError::Truncated(what))?;
            self.data = rest;
            let bits = u64::from(byte & 0x7f);
            if shift == 63 && bits > 1 {
                break;
            }
            value |= bits << shift;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(FormatError::Invalid(format!("{what}: integer too large")))
    }

    /// Reads an integer that must fit in `u32`.
    pub fn u32(&mut self, what: &'static str) -> Result<u32, FormatError> {
        let v = self.u(what)?;
        u32::try_from(v).map_err(|_| FormatError::Invalid(format!("{what}: {v} out of range")))
    }

    /// Reads a count of items each taking at least `min_item_bytes`, rejecting counts that
    /// the remaining data cannot hold (so no absurd allocation happens).
    pub fn count(
        &mut self,
        what: &'static str,
        min_item_bytes: usize,
    ) -> Result<usize, FormatError> {
        let n = self.u(what)?;
        let max = (self.remaining() / min_item_bytes.max(1)) as u64;
        if n > max {
            return Err(FormatError::Invalid(format!(
                "{what}: count {n} exceeds what the data can hold"
            )));
        }
        Ok(n as usize)
    }

    /// Reads exactly `n` raw bytes.
    pub fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], FormatError> {
        if n > self.data.len() {
            return Err(FormatError::Truncated(what));
        }
        let (head, rest) = self.data.split_at(n);
        self.data = rest;
        Ok(head)
    }

    /// Reads a length-prefixed byte string.
    pub fn bytes(&mut self, what: &'static str) -> Result<&'a [u8], FormatError> {
        let n = self.u(what)?;
        let n = usize::try_from(n).map_err(|_| FormatError::Truncated(what))?;
        self.take(n, what)
    }

    /// Reads a length-prefixed UTF-8 string.
    pub fn str(&mut self, what: &'static str) -> Result<&'a str, FormatError> {
        let b = self.bytes(what)?;
        std::str::from_utf8(b).map_err(|_| FormatError::Invalid(format!("{what}: not UTF-8")))
    }

    /// Reads 32 raw bytes.
    pub fn sha(&mut self, what: &'static str) -> Result<[u8; 32], FormatError> {
        let b = self.take(32, what)?;
        let mut out = [0u8; 32];
        out.copy_from_slice(b);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leb128_round_trips_edges() {
        for v in [0, 1, 127, 128, 300, u32::MAX as u64, u64::MAX - 1, u64::MAX] {
            let mut buf = Vec::new();
            put_u(&mut buf, v);
            let mut r = Reader::new(&buf);
            assert_eq!(r.u("v").unwrap(), v);
            assert!(r.is_empty());
        }
    }

    #[test]
    fn overlong_and_truncated_integers_are_errors() {
        assert!(Reader::new(&[0x80; 11]).u("v").is_err());
        assert!(
            Reader::new(&[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02])
                .u("v")
                .is_err()
        );
        assert!(matches!(
            Reader::new(&[0x80]).u("v"),
            Err(FormatError::Truncated("v"))
        ));
    }

    #[test]
    fn counts_are_bounded_by_remaining_bytes() {
        let mut buf = Vec::new();
        put_u(&mut buf, 1_000_000);
        buf.extend_from_slice(&[0; 10]);
        assert!(Reader::new(&buf).count("n", 1).is_err());
    }
}
