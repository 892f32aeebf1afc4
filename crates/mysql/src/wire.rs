//! Byte-level building blocks of the MySQL wire format: little-endian integers,
//! length-encoded ("lenenc") integers and strings, NUL-terminated strings.
//!
//! Reading goes through [`Reader`], a bounds-checked cursor over a payload that
//! already sits in memory. A length read from the wire is only ever used to
//! *slice* the payload, never to allocate, so a hostile length can at worst
//! produce a [`Malformed`] error.

use std::fmt;

/// The payload ended early or contained an impossible encoding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Malformed;

impl fmt::Display for Malformed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("malformed packet")
    }
}

impl std::error::Error for Malformed {}

/// Bounds-checked cursor over one packet payload.
#[derive(Clone, Debug)]
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Self { buf, pos: 0 }
    }

    pub(crate) fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.remaining() == 0
    }

    /// The next byte, without consuming it.
    pub(crate) fn peek(&self) -> Option<u8> {
        self.buf.get(self.pos).copied()
    }

    pub(crate) fn bytes(&mut self, n: usize) -> Result<&'a [u8], Malformed> {
        if n > self.remaining() {
            return Err(Malformed);
        }
        let out = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(out)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], Malformed> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.bytes(N)?);
        Ok(out)
    }

    pub(crate) fn u8(&mut self) -> Result<u8, Malformed> {
        Ok(self.array::<1>()?[0])
    }

    pub(crate) fn u16(&mut self) -> Result<u16, Malformed> {
        Ok(u16::from_le_bytes(self.array()?))
    }

    pub(crate) fn u24(&mut self) -> Result<u32, Malformed> {
        let [a, b, c] = self.array::<3>()?;
        Ok(u32::from_le_bytes([a, b, c, 0]))
    }

    pub(crate) fn u32(&mut self) -> Result<u32, Malformed> {
        Ok(u32::from_le_bytes(self.array()?))
    }

    pub(crate) fn u64(&mut self) -> Result<u64, Malformed> {
        Ok(u64::from_le_bytes(self.array()?))
    }

    /// Everything that is left.
    pub(crate) fn rest(&mut self) -> &'a [u8] {
        let out = &self.buf[self.pos..];
        self.pos = self.buf.len();
        out
    }

    /// A string terminated by NUL; the NUL is consumed but not returned.
    pub(crate) fn null_terminated(&mut self) -> Result<&'a [u8], Malformed> {
        let rest = &self.buf[self.pos..];
        let end = rest.iter().position(|&b| b == 0).ok_or(Malformed)?;
        self.pos += end + 1;
        Ok(&rest[..end])
    }

    /// Like [`Self::null_terminated`] but also accepts the end of the payload
    /// as terminator: several clients omit the NUL after the last field.
    pub(crate) fn null_terminated_or_rest(&mut self) -> &'a [u8] {
        let rest = &self.buf[self.pos..];
        match rest.iter().position(|&b| b == 0) {
            Some(end) => {
                self.pos += end + 1;
                &rest[..end]
            }
            None => {
                self.pos = self.buf.len();
                rest
            }
        }
    }

    /// A length-encoded integer. 0xFB (the NULL marker of text rows) and 0xFF
    /// (the ERR header) are not valid integers in anything a client sends.
    pub(crate) fn lenenc_int(&mut self) -> Result<u64, Malformed> {
        match self.u8()? {
            b @ 0..=0xFA => Ok(u64::from(b)),
            0xFC => Ok(u64::from(self.u16()?)),
            0xFD => Ok(u64::from(self.u24()?)),
            0xFE => self.u64(),
            _ => Err(Malformed),
        }
    }

    /// A length-encoded string; the length is checked against what is left
    /// before anything is sliced.
    pub(crate) fn lenenc_bytes(&mut self) -> Result<&'a [u8], Malformed> {
        let len = self.lenenc_int()?;
        let len = usize::try_from(len).map_err(|_| Malformed)?;
        self.bytes(len)
    }
}

/// Appends a length-encoded integer.
pub(crate) fn put_lenenc_int(out: &mut Vec<u8>, v: u64) {
    if v < 0xFB {
        out.push(v as u8);
    } else if v <= 0xFFFF {
        out.push(0xFC);
        out.extend_from_slice(&(v as u16).to_le_bytes());
    } else if v <= 0xFF_FFFF {
        out.push(0xFD);
        out.extend_from_slice(&(v as u32).to_le_bytes()[..3]);
    } else {
        out.push(0xFE);
        out.extend_from_slice(&v.to_le_bytes());
    }
}

/// Appends a length-encoded string.
pub(crate) fn put_lenenc_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    put_lenenc_int(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

/// Appends a NUL-terminated string. Callers pass text that cannot contain NUL
/// (or sanitize it first): an embedded NUL would end the field early.
pub(crate) fn put_null_terminated(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(bytes);
    out.push(0);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lenenc(v: u64) -> Vec<u8> {
        let mut out = Vec::new();
        put_lenenc_int(&mut out, v);
        out
    }

    #[test]
    fn lenenc_int_boundaries() {
        assert_eq!(lenenc(0), vec![0]);
        assert_eq!(lenenc(250), vec![250]);
        assert_eq!(lenenc(251), vec![0xFC, 251, 0]);
        assert_eq!(lenenc(0xFFFF), vec![0xFC, 0xFF, 0xFF]);
        assert_eq!(lenenc(0x1_0000), vec![0xFD, 0, 0, 1]);
        assert_eq!(lenenc(0xFF_FFFF), vec![0xFD, 0xFF, 0xFF, 0xFF]);
        assert_eq!(lenenc(0x100_0000), vec![0xFE, 0, 0, 0, 1, 0, 0, 0, 0]);
        assert_eq!(lenenc(u64::MAX), [vec![0xFE], vec![0xFF; 8]].concat());
    }

    #[test]
    fn lenenc_int_round_trip() {
        for v in [
            0,
            1,
            250,
            251,
            252,
            0xFFFF,
            0x1_0000,
            0xFF_FFFF,
            0x100_0000,
            u64::MAX,
        ] {
            let bytes = lenenc(v);
            let mut r = Reader::new(&bytes);
            assert_eq!(r.lenenc_int(), Ok(v));
            assert!(r.is_empty());
        }
    }

    #[test]
    fn lenenc_int_rejects_markers_and_truncation() {
        assert_eq!(Reader::new(&[0xFB]).lenenc_int(), Err(Malformed));
        assert_eq!(Reader::new(&[0xFF]).lenenc_int(), Err(Malformed));
        assert_eq!(Reader::new(&[]).lenenc_int(), Err(Malformed));
        assert_eq!(Reader::new(&[0xFC, 1]).lenenc_int(), Err(Malformed));
        assert_eq!(Reader::new(&[0xFD, 1, 2]).lenenc_int(), Err(Malformed));
        assert_eq!(
            Reader::new(&[0xFE, 1, 2, 3, 4, 5, 6, 7]).lenenc_int(),
            Err(Malformed)
        );
    }

    #[test]
    fn lenenc_strings() {
        let mut out = Vec::new();
        put_lenenc_bytes(&mut out, b"hello");
        put_lenenc_bytes(&mut out, b"");
        let long = vec![b'x'; 300];
        put_lenenc_bytes(&mut out, &long);
        let mut r = Reader::new(&out);
        assert_eq!(r.lenenc_bytes(), Ok(&b"hello"[..]));
        assert_eq!(r.lenenc_bytes(), Ok(&b""[..]));
        assert_eq!(r.lenenc_bytes(), Ok(&long[..]));
        assert!(r.is_empty());
    }

    #[test]
    fn lenenc_string_with_lying_length_is_malformed() {
        // Claims 2^64-1 bytes: must fail without allocating anything.
        let mut bytes = vec![0xFE];
        bytes.extend_from_slice(&u64::MAX.to_le_bytes());
        bytes.extend_from_slice(b"abc");
        assert_eq!(Reader::new(&bytes).lenenc_bytes(), Err(Malformed));
        assert_eq!(Reader::new(&[5, b'a', b'b']).lenenc_bytes(), Err(Malformed));
    }

    #[test]
    fn fixed_ints_and_strings() {
        let bytes = [1, 2, 0, 3, 0, 0, 4, 0, 0, 0, b'a', b'b', 0, b'c', b'd'];
        let mut r = Reader::new(&bytes);
        assert_eq!(r.u8(), Ok(1));
        assert_eq!(r.u16(), Ok(2));
        assert_eq!(r.u24(), Ok(3));
        assert_eq!(r.u32(), Ok(4));
        assert_eq!(r.null_terminated(), Ok(&b"ab"[..]));
        assert_eq!(r.clone().null_terminated(), Err(Malformed));
        assert_eq!(r.null_terminated_or_rest(), &b"cd"[..]);
        assert!(r.is_empty());
        assert_eq!(r.u8(), Err(Malformed));
        assert_eq!(r.rest(), &b""[..]);
    }
}
