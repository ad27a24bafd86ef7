//! `Row`: a stored row as one heap allocation holding a self-describing encoding, owned
//! through a thin pointer (8 bytes; `Option<Row>` too).
//!
//! # Encoding
//!
//! ```text
//! row    = header body
//! header = varint(len(body))                  -- so a thin pointer knows the allocation size
//! body   = varint(column count) value*
//! value  = tag payload
//! ```
//!
//! Varints are LEB128 (7 bits per byte, low bits first) in their shortest form; signed
//! integers are zigzag-mapped first (0, -1, 1, -2, … → 0, 1, 2, 3, …).
//!
//! | tag | value | payload |
//! | --- | --- | --- |
//! | 0 | null | — |
//! | 1 / 2 | false / true | — |
//! | 3 | int | zigzag varint |
//! | 4 | double | 8 bytes, little-endian IEEE-754 bits (NaN payloads and -0.0 kept) |
//! | 5 | string | varint byte length, UTF-8 bytes |
//! | 6 | json | varint byte length, the json encoding (see `json_codec`) |
//! | 7 | timestamp | zigzag varint (microseconds) |
//! | 8 | interval | zigzag varints: months, days, microseconds |
//! | 9 | vector | varint element count, 4 bytes (LE `f32`) per element |
//!
//! A single-int row `[Int(1000)]` is 5 bytes (`04 01 03 d0 0f`); any single-int row fits in
//! 13. The allocation is the encoding padded with zeros to at least 8 bytes (no allocator has
//! a smaller size class), so the first 8 bytes are read with one load: an int in column 0
//! (the usual primary key) is then compared and hashed without a chain of byte loads. The
//! encoding is canonical: equal values give equal bytes (doubles compare by bits), so
//! `PartialEq` compares bytes.
//!
//! Rows can be laid back to back in one buffer ([`encode_row_into`], [`RowReader`]): each
//! starts with its own length. Bytes from outside go through [`Row::from_encoded`], which
//! validates everything (varints, lengths, UTF-8, tags, json structure and depth) and never
//! panics; reads of a built `Row` then trust its bytes.

use crate::codec::{
    skip_at, validate_value, value_at, value_size, write_value, T_INT, T_TIMESTAMP,
};
use crate::key::{cmp_int_key, key_int, key_null, key_other, key_str, KeyCmp, KeySink};
use crate::value_ref::ValueRef;
use crate::varint::{put_varint, unzigzag, varint_at, varint_len, Check, Corrupt, Reader};
use amelie_common::{Error, Result, Value};
use std::cmp::Ordering;
use std::fmt;
use std::marker::PhantomData;
use std::ptr::NonNull;

/// An owned, immutable, encoded row.
pub struct Row {
    /// Start of a `Box<[u8]>` whose length is given by the header at its start.
    ptr: NonNull<u8>,
    _own: PhantomData<Box<[u8]>>,
}

// SAFETY: a `Row` uniquely owns its allocation, like the `Box<[u8]>` it was made from, and
// only ever gives out shared (`&[u8]`) access to the bytes, which are never written after
// construction; so moving it to or sharing it between threads is as safe as for `Box<[u8]>`.
unsafe impl Send for Row {}
// SAFETY: see `Send`: `&Row` only reads immutable bytes.
unsafe impl Sync for Row {}

/// `Ok` unless a json value of the row is nested deeper than
/// [`amelie_common::json::MAX_DEPTH`] (then the "json nesting is too deep" error). Every row
/// the server stores goes through this first, so a stored row always loads again (the
/// loader accepts [`crate::JSON_MAX_DEPTH`] levels).
pub fn check_values(values: &[Value]) -> Result<()> {
    for v in values {
        if let Value::Json(j) = v {
            j.check_depth()?;
        }
    }
    Ok(())
}

/// Appends the encoding of a row of `values` (exactly the bytes a [`Row`] holds) to `out`.
pub fn encode_row_into(values: &[Value], out: &mut Vec<u8>) {
    let body = body_size(values);
    out.reserve(varint_len(body as u64) + body);
    put_varint(out, body as u64);
    put_varint(out, values.len() as u64);
    for v in values {
        write_value(v, out);
    }
}

fn body_size(values: &[Value]) -> usize {
    varint_len(values.len() as u64) + values.iter().map(value_size).sum::<usize>()
}

/// Checks the row encoded at the start of `buf`; returns its length (header included).
/// The size of the valid row encoding at the start of `buf` (validated like
/// [`Row::from_encoded`], without copying it).
pub fn encoded_len(buf: &[u8]) -> Result<usize> {
    check_encoded(buf).map_err(corrupt)
}

fn check_encoded(buf: &[u8]) -> Check<usize> {
    let mut r = Reader::new(buf);
    let body_len = r.len(1)?;
    let start = r.pos;
    let mut body = Reader::new(&buf[start..start + body_len]);
    let columns = body.len(1)?;
    for _ in 0..columns {
        validate_value(&mut body)?;
    }
    if !body.at_end() {
        return Err(Corrupt("bytes after the last column"));
    }
    Ok(start + body_len)
}

fn corrupt(c: Corrupt) -> Error {
    Error::internal(format!("corrupt row encoding: {}", c.0))
}

impl Row {
    /// Encodes `values` into a new row (one allocation of exactly the encoded size).
    pub fn encode(values: &[Value]) -> Row {
        let body = body_size(values);
        let mut out = Vec::with_capacity(alloc_len(varint_len(body as u64) + body));
        encode_row_into(values, &mut out);
        Row::from_vec(out)
    }

    /// Validates the row encoded at the start of `buf` and copies it into a new row.
    /// Returns the row and the number of bytes it took in `buf`.
    pub fn from_encoded(buf: &[u8]) -> Result<(Row, usize)> {
        let n = check_encoded(buf).map_err(corrupt)?;
        Ok((Row::from_vec(copy(&buf[..n])), n))
    }

    /// The caller guarantees `v` is one valid row encoding with nothing after it.
    fn from_vec(mut v: Vec<u8>) -> Row {
        // padded to the allocation size: see `alloc_len`
        v.resize(alloc_len(v.len()), 0);
        debug_assert_eq!(v.len(), v.capacity());
        let leaked: &'static mut [u8] = Box::leak(v.into_boxed_slice());
        Row {
            ptr: NonNull::from(leaked).cast::<u8>(),
            _own: PhantomData,
        }
    }

    /// (header length, body length).
    #[inline]
    fn lens(&self) -> (usize, usize) {
        let p = self.ptr.as_ptr();
        // SAFETY: `ptr` points at a live allocation (owned by `self`) that starts with the
        // header: a shortest-form varint of at most 10 bytes, all inside the allocation
        // (written by the encoder, or checked by `check_encoded` before the copy). The loop
        // stops at the header's last byte (the first one below 0x80), so it never reads
        // past the header.
        let b0 = unsafe { *p };
        if b0 < 0x80 {
            return (1, b0 as usize);
        }
        let mut n = (b0 & 0x7f) as usize;
        let mut i = 1;
        loop {
            // SAFETY: as above; byte `i` is still part of the header.
            let b = unsafe { *p.add(i) };
            n |= ((b & 0x7f) as usize) << (7 * i);
            i += 1;
            if b < 0x80 {
                return (i, n);
            }
        }
    }

    /// The whole encoding, header included.
    #[inline]
    pub fn as_bytes(&self) -> &[u8] {
        let (h, b) = self.lens();
        // SAFETY: the allocation holds exactly `h + b` initialised bytes (the header records
        // the body length, see `from_vec`), it lives as long as `self`, and it is never
        // written after construction.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), h + b) }
    }

    /// The body: column count then the values.
    #[inline]
    fn body(&self) -> &[u8] {
        let (h, b) = self.lens();
        // SAFETY: as in `as_bytes`: bytes `h..h + b` of the allocation are the body.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr().add(h), b) }
    }

    /// Number of columns.
    #[inline]
    pub fn columns(&self) -> usize {
        varint_at(self.body(), &mut 0) as usize
    }

    /// Offset of column `col` in the body (None: out of range).
    #[inline]
    fn col_pos(body: &[u8], col: usize) -> Option<usize> {
        let mut pos = 0;
        let n = varint_at(body, &mut pos) as usize;
        if col >= n {
            return None;
        }
        for _ in 0..col {
            skip_at(body, &mut pos);
        }
        Some(pos)
    }

    /// Column `col`, borrowed (out of range: `Null`).
    #[inline]
    pub fn get_ref(&self, col: usize) -> ValueRef<'_> {
        let body = self.body();
        match Row::col_pos(body, col) {
            Some(mut pos) => value_at(body, &mut pos),
            None => ValueRef::Null,
        }
    }

    /// Column `col` as an owned value (out of range: `Null`).
    pub fn get(&self, col: usize) -> Value {
        self.get_ref(col).to_value()
    }

    /// The columns in order, borrowed.
    pub fn iter(&self) -> RowIter<'_> {
        let body = self.body();
        let mut pos = 0;
        let left = varint_at(body, &mut pos) as usize;
        RowIter { body, pos, left }
    }

    pub fn to_values(&self) -> Vec<Value> {
        self.iter().map(|v| v.to_value()).collect()
    }

    /// Appends the memcomparable key of columns `key_cols` to `out`: the same bytes as
    /// [`crate::encode_key`] of those values.
    pub fn encode_key(&self, key_cols: &[usize], out: &mut Vec<u8>) {
        self.key_into(key_cols, out);
    }

    /// Compares this row's key (of `key_cols`) with an encoded key, without building it.
    #[inline]
    pub fn cmp_key(&self, key_cols: &[usize], key: &[u8]) -> Ordering {
        if let [c] = key_cols {
            if let Some(i) = self.int_at(*c) {
                return cmp_int_key(i, key);
            }
        }
        let mut c = KeyCmp::new(key);
        self.key_into(key_cols, &mut c);
        c.finish()
    }

    /// The first 8 bytes of the allocation (padding included), little-endian.
    #[inline(always)]
    fn word0(&self) -> u64 {
        // SAFETY: every row allocation is at least 8 bytes (`alloc_len`), all initialised
        // (encoding, then zero padding), and lives as long as `self`.
        u64::from_le(unsafe { std::ptr::read_unaligned(self.ptr.as_ptr() as *const u64) })
    }

    /// Column 0 when it is an int or a timestamp that sits in the first 8 bytes, read with
    /// one load instead of a chain of dependent byte loads.
    #[inline(always)]
    fn int0(&self) -> Option<i64> {
        let w = self.word0();
        // header and column count of one byte each, at least one column, an int tag
        let [h, n, tag, ..] = w.to_le_bytes();
        if h >= 0x80 || n >= 0x80 || n == 0 || (tag != T_INT && tag != T_TIMESTAMP) {
            return None;
        }
        let rest = w >> 24; // up to 5 varint bytes
        let stops = !rest & 0x80_8080_8080;
        if stops == 0 {
            return None;
        }
        let len = stops.trailing_zeros() / 8 + 1;
        let x = rest & ((1u64 << (8 * len)) - 1);
        let mut v = 0u64;
        for i in 0..5 {
            v |= (x >> i) & (0x7f << (7 * i));
        }
        Some(unzigzag(v))
    }

    /// Column `col` when it is an int or a timestamp (the common primary key).
    #[inline(always)]
    fn int_at(&self, col: usize) -> Option<i64> {
        if col == 0 {
            if let Some(i) = self.int0() {
                return Some(i);
            }
        }
        let body = self.body();
        let mut pos = 0;
        if varint_at(body, &mut pos) as usize <= col {
            return None;
        }
        for _ in 0..col {
            skip_at(body, &mut pos);
        }
        match body.get(pos) {
            Some(&(T_INT | T_TIMESTAMP)) => {
                pos += 1;
                Some(unzigzag(varint_at(body, &mut pos)))
            }
            _ => None,
        }
    }

    /// Feeds the key of `key_cols` to `out`, walking the row once when the columns ascend.
    #[inline]
    pub(crate) fn key_into<S: KeySink>(&self, key_cols: &[usize], out: &mut S) {
        if let [0] = key_cols {
            if let Some(i) = self.int0() {
                key_int(i, out);
                return;
            }
        }
        let body = self.body();
        let mut pos = 0;
        let n = varint_at(body, &mut pos) as usize;
        let first = pos;
        let mut at = 0; // column at `pos`
        for &c in key_cols {
            let more = if c >= n {
                key_null(out)
            } else {
                if c < at {
                    pos = first;
                    at = 0;
                }
                while at < c {
                    skip_at(body, &mut pos);
                    at += 1;
                }
                at += 1;
                match body.get(pos) {
                    Some(&(T_INT | T_TIMESTAMP)) => {
                        pos += 1;
                        key_int(unzigzag(varint_at(body, &mut pos)), out)
                    }
                    _ => key_value(value_at(body, &mut pos), out),
                }
            };
            if !more {
                return;
            }
        }
    }
}

/// Feeds the key bytes of one column to `out`.
fn key_value<S: KeySink>(v: ValueRef<'_>, out: &mut S) -> bool {
    match v {
        ValueRef::Null => key_null(out),
        ValueRef::Int(i) | ValueRef::Timestamp(i) => key_int(i, out),
        ValueRef::Str(s) => key_str(s, out),
        other => key_other(&other.to_value(), out),
    }
}

/// Iterator over the columns of a row.
pub struct RowIter<'a> {
    body: &'a [u8],
    pos: usize,
    left: usize,
}

impl<'a> Iterator for RowIter<'a> {
    type Item = ValueRef<'a>;

    #[inline]
    fn next(&mut self) -> Option<ValueRef<'a>> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        Some(value_at(self.body, &mut self.pos))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

impl ExactSizeIterator for RowIter<'_> {}

impl Drop for Row {
    fn drop(&mut self) {
        let len = alloc_len(self.as_bytes().len());
        let slice = std::ptr::slice_from_raw_parts_mut(self.ptr.as_ptr(), len);
        // SAFETY: `ptr` and `len` are exactly the pointer and length of the `Box<[u8]>`
        // leaked in `from_vec` (the header records the encoded length, and `from_vec` sized
        // the box to `alloc_len` of it), and `drop` runs once, so the box is rebuilt and
        // freed exactly once, with the layout it was allocated with.
        drop(unsafe { Box::from_raw(slice) });
    }
}

impl Clone for Row {
    fn clone(&self) -> Row {
        Row::from_vec(copy(self.as_bytes()))
    }
}

/// Size of a row's allocation for `len` encoded bytes: at least 8, so the first 8 bytes can
/// be read in one load (allocators have no smaller size class anyway); the padding is zero.
#[inline]
fn alloc_len(len: usize) -> usize {
    len.max(8)
}

/// `bytes` in a vector with room for the padding.
fn copy(bytes: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(alloc_len(bytes.len()));
    v.extend_from_slice(bytes);
    v
}

impl Default for Row {
    /// A row of no columns.
    fn default() -> Row {
        Row::encode(&[])
    }
}

impl PartialEq for Row {
    fn eq(&self, other: &Row) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl Eq for Row {}

impl std::hash::Hash for Row {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.as_bytes().hash(state)
    }
}

impl fmt::Debug for Row {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.iter().map(|v| v.to_value()))
            .finish()
    }
}

impl From<&[Value]> for Row {
    fn from(values: &[Value]) -> Row {
        Row::encode(values)
    }
}

/// Serialized as its encoding (a byte string); deserializing validates it.
impl serde::Serialize for Row {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_bytes(self.as_bytes())
    }
}

impl<'de> serde::Deserialize<'de> for Row {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Row, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Row;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an encoded row")
            }

            fn visit_bytes<E: serde::de::Error>(self, b: &[u8]) -> std::result::Result<Row, E> {
                match Row::from_encoded(b) {
                    Ok((row, n)) if n == b.len() => Ok(row),
                    Ok(_) => Err(E::custom("corrupt row encoding: bytes after the row")),
                    Err(e) => Err(E::custom(e.msg())),
                }
            }

            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> std::result::Result<Row, A::Error> {
                let mut b = Vec::new();
                while let Some(x) = seq.next_element::<u8>()? {
                    b.push(x);
                }
                self.visit_bytes(&b)
            }
        }
        d.deserialize_bytes(V)
    }
}

/// Reads rows laid back to back in a buffer (as [`encode_row_into`] writes them), validating
/// each; stops after the first error.
pub struct RowReader<'a> {
    buf: &'a [u8],
    failed: bool,
}

impl<'a> RowReader<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        RowReader { buf, failed: false }
    }

    /// Bytes not read yet.
    pub fn remaining(&self) -> &'a [u8] {
        self.buf
    }
}

impl Iterator for RowReader<'_> {
    type Item = Result<Row>;

    fn next(&mut self) -> Option<Result<Row>> {
        if self.buf.is_empty() || self.failed {
            return None;
        }
        match Row::from_encoded(self.buf) {
            Ok((row, n)) => {
                self.buf = &self.buf[n..];
                Some(Ok(row))
            }
            Err(e) => {
                self.failed = true;
                Some(Err(e))
            }
        }
    }
}
