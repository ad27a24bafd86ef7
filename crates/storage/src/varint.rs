//! LEB128 varints, zigzag for signed values, and a bounds-checked reader over encoded bytes.
//!
//! Two ways to read: the `Reader` validates (canonical varints only, every length within the
//! buffer) and is used on bytes from outside; the `*_at` functions read bytes already
//! validated (a stored `Row`) and stay memory-safe whatever the bytes are (they never index
//! out of bounds; on bytes that are not a valid encoding they return some value).

/// Reason an encoding was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Corrupt(pub(crate) &'static str);

pub(crate) type Check<T> = std::result::Result<T, Corrupt>;

#[inline]
pub(crate) fn varint_len(v: u64) -> usize {
    // bits needed (at least 1), 7 per byte
    let bits = 64 - (v | 1).leading_zeros() as usize;
    bits.div_ceil(7)
}

#[inline]
pub(crate) fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push(v as u8 | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

#[inline]
pub(crate) fn zigzag(i: i64) -> u64 {
    ((i << 1) ^ (i >> 63)) as u64
}

#[inline]
pub(crate) fn unzigzag(u: u64) -> i64 {
    ((u >> 1) as i64) ^ -((u & 1) as i64)
}

/// Reads a varint of trusted bytes at `*pos`, advancing it.
#[inline(always)]
pub(crate) fn varint_at(buf: &[u8], pos: &mut usize) -> u64 {
    match buf.get(*pos) {
        Some(&b) if b < 0x80 => {
            *pos += 1;
            b as u64
        }
        _ => varint_at_long(buf, pos),
    }
}

/// Reads a varint of trusted bytes at `*pos` (any length), advancing it.
#[inline]
fn varint_at_long(buf: &[u8], pos: &mut usize) -> u64 {
    // eight bytes at once when they are there: the terminator is the first byte below 0x80
    if let Some(w) = buf.get(*pos..*pos + 8) {
        let w = u64::from_le_bytes([w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7]]);
        let stops = !w & 0x8080_8080_8080_8080;
        if stops != 0 {
            let len = (stops.trailing_zeros() / 8 + 1) as usize;
            let x = if len == 8 {
                w
            } else {
                w & ((1u64 << (8 * len)) - 1)
            };
            let mut v = 0u64;
            for i in 0..len {
                v |= ((x >> (8 * i)) & 0x7f) << (7 * i);
            }
            *pos += len;
            return v;
        }
    }
    let mut v = 0u64;
    let mut shift = 0u32;
    while let Some(&b) = buf.get(*pos) {
        *pos += 1;
        if shift < 64 {
            v |= ((b & 0x7f) as u64) << shift;
        }
        if b < 0x80 {
            break;
        }
        shift += 7;
    }
    v
}

/// Skips a varint of trusted bytes at `*pos`.
#[inline(always)]
pub(crate) fn skip_varint_at(buf: &[u8], pos: &mut usize) {
    while let Some(&b) = buf.get(*pos) {
        *pos += 1;
        if b < 0x80 {
            break;
        }
    }
}

/// A validating reader.
pub(crate) struct Reader<'a> {
    pub(crate) buf: &'a [u8],
    pub(crate) pos: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }

    #[inline]
    pub(crate) fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    #[inline]
    pub(crate) fn at_end(&self) -> bool {
        self.pos == self.buf.len()
    }

    #[inline]
    pub(crate) fn byte(&mut self) -> Check<u8> {
        let b = *self.buf.get(self.pos).ok_or(Corrupt("truncated"))?;
        self.pos += 1;
        Ok(b)
    }

    /// A canonical (shortest form) varint of at most 64 bits.
    pub(crate) fn varint(&mut self) -> Check<u64> {
        let mut v = 0u64;
        for i in 0..10u32 {
            let b = self.byte()?;
            if i == 9 && b > 1 {
                return Err(Corrupt("varint overflows 64 bits"));
            }
            v |= ((b & 0x7f) as u64) << (7 * i);
            if b < 0x80 {
                if b == 0 && i > 0 {
                    return Err(Corrupt("varint is not in its shortest form"));
                }
                return Ok(v);
            }
        }
        Err(Corrupt("varint is too long"))
    }

    /// A varint used as a length or count: must fit `usize` and the remaining bytes when
    /// each unit takes at least `unit` bytes.
    pub(crate) fn len(&mut self, unit: usize) -> Check<usize> {
        let n = self.varint()?;
        match usize::try_from(n) {
            Ok(n) if n.checked_mul(unit).is_some_and(|b| b <= self.remaining()) => Ok(n),
            _ => Err(Corrupt("length exceeds the buffer")),
        }
    }

    #[inline]
    pub(crate) fn take(&mut self, n: usize) -> Check<&'a [u8]> {
        if n > self.remaining() {
            return Err(Corrupt("truncated"));
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    pub(crate) fn str(&mut self) -> Check<&'a str> {
        let n = self.len(1)?;
        let b = self.take(n)?;
        std::str::from_utf8(b).map_err(|_| Corrupt("text is not valid UTF-8"))
    }
}

/// Appends `v` as a LEB128 varint (the encoding rows use), for other byte formats built
/// around rows (the WAL's change records).
pub fn write(out: &mut Vec<u8>, v: u64) {
    put_varint(out, v)
}

/// Reads a canonical varint at `*pos` of untrusted bytes, advancing `pos`; None when the
/// bytes are not one.
pub fn read(buf: &[u8], pos: &mut usize) -> Option<u64> {
    let mut r = Reader::new(buf);
    r.pos = *pos;
    let v = r.varint().ok()?;
    *pos = r.pos;
    Some(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_round_trip_and_have_their_length() {
        for v in [0u64, 1, 127, 128, 300, 1 << 35, u64::MAX - 1, u64::MAX] {
            let mut out = Vec::new();
            put_varint(&mut out, v);
            assert_eq!(out.len(), varint_len(v), "{v}");
            let mut r = Reader::new(&out);
            assert_eq!(r.varint(), Ok(v));
            assert!(r.at_end());
            let mut pos = 0;
            assert_eq!(varint_at(&out, &mut pos), v);
            assert_eq!(pos, out.len());
        }
        for i in [0i64, -1, 1, i64::MIN, i64::MAX, -64, 64] {
            assert_eq!(unzigzag(zigzag(i)), i);
        }
        assert_eq!(zigzag(-1), 1);
        assert_eq!(zigzag(1), 2);
    }

    #[test]
    fn reader_refuses_bad_varints() {
        for bad in [
            &[0x80u8][..],
            &[0x80, 0x00],
            &[0xff; 11],
            &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02],
        ] {
            assert!(Reader::new(bad).varint().is_err(), "{bad:?}");
        }
        assert!(Reader::new(&[5, 1, 2]).len(1).is_err());
        assert_eq!(Reader::new(&[2, 1, 2]).len(1), Ok(2));
        assert!(Reader::new(&[1, 0xff]).str().is_err());
    }
}
