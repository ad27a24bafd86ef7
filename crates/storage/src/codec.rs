//! Encoding of one value inside a row: a tag byte and its payload (see `row` for the layout),
//! with the three ways to read it back: validate (bytes from outside), decode to a
//! [`ValueRef`] and skip (bytes of a stored row, already validated).

use crate::json_codec::{self, JSON_MAX_DEPTH};
use crate::value_ref::{JsonRef, ValueRef, VectorRef};
use crate::varint::{
    put_varint, skip_varint_at, unzigzag, varint_at, varint_len, zigzag, Check, Corrupt, Reader,
};
use amelie_common::{Interval, Value};

pub(crate) const T_NULL: u8 = 0;
pub(crate) const T_FALSE: u8 = 1;
pub(crate) const T_TRUE: u8 = 2;
pub(crate) const T_INT: u8 = 3;
pub(crate) const T_DOUBLE: u8 = 4;
pub(crate) const T_STR: u8 = 5;
pub(crate) const T_JSON: u8 = 6;
pub(crate) const T_TIMESTAMP: u8 = 7;
pub(crate) const T_INTERVAL: u8 = 8;
pub(crate) const T_VECTOR: u8 = 9;

/// Bytes `write_value` appends for `v`.
pub(crate) fn value_size(v: &Value) -> usize {
    match v {
        Value::Null | Value::Bool(_) => 1,
        Value::Int(i) | Value::Timestamp(i) => 1 + varint_len(zigzag(*i)),
        Value::Double(_) => 9,
        Value::Str(s) => 1 + varint_len(s.len() as u64) + s.len(),
        Value::Json(j) => {
            let n = json_codec::size(j);
            1 + varint_len(n as u64) + n
        }
        Value::Interval(iv) => {
            1 + varint_len(zigzag(iv.months as i64))
                + varint_len(zigzag(iv.days as i64))
                + varint_len(zigzag(iv.us))
        }
        Value::Vector(x) => 1 + varint_len(x.len() as u64) + 4 * x.len(),
    }
}

pub(crate) fn write_value(v: &Value, out: &mut Vec<u8>) {
    match v {
        Value::Null => out.push(T_NULL),
        Value::Bool(false) => out.push(T_FALSE),
        Value::Bool(true) => out.push(T_TRUE),
        Value::Int(i) => {
            out.push(T_INT);
            put_varint(out, zigzag(*i));
        }
        Value::Timestamp(i) => {
            out.push(T_TIMESTAMP);
            put_varint(out, zigzag(*i));
        }
        Value::Double(d) => {
            out.push(T_DOUBLE);
            out.extend_from_slice(&d.to_bits().to_le_bytes());
        }
        Value::Str(s) => {
            out.push(T_STR);
            put_varint(out, s.len() as u64);
            out.extend_from_slice(s.as_bytes());
        }
        Value::Json(j) => {
            out.push(T_JSON);
            put_varint(out, json_codec::size(j) as u64);
            json_codec::write(j, out);
        }
        Value::Interval(iv) => {
            out.push(T_INTERVAL);
            put_varint(out, zigzag(iv.months as i64));
            put_varint(out, zigzag(iv.days as i64));
            put_varint(out, zigzag(iv.us));
        }
        Value::Vector(x) => {
            out.push(T_VECTOR);
            put_varint(out, x.len() as u64);
            for f in x.iter() {
                out.extend_from_slice(&f.to_le_bytes());
            }
        }
    }
}

/// Checks one value at the reader's position and moves past it.
pub(crate) fn validate_value(r: &mut Reader<'_>) -> Check<()> {
    match r.byte()? {
        T_NULL | T_FALSE | T_TRUE => {}
        T_INT | T_TIMESTAMP => {
            r.varint()?;
        }
        T_DOUBLE => {
            r.take(8)?;
        }
        T_STR => {
            r.str()?;
        }
        T_JSON => {
            let n = r.len(1)?;
            json_codec::decode(r.take(n)?, JSON_MAX_DEPTH)?;
        }
        T_INTERVAL => {
            let months = unzigzag(r.varint()?);
            let days = unzigzag(r.varint()?);
            r.varint()?;
            if i32::try_from(months).is_err() || i32::try_from(days).is_err() {
                return Err(Corrupt("interval field out of range"));
            }
        }
        T_VECTOR => {
            let n = r.len(4)?;
            r.take(n * 4)?;
        }
        _ => return Err(Corrupt("unknown value tag")),
    }
    Ok(())
}

#[inline]
fn slice_at<'a>(buf: &'a [u8], pos: &mut usize, n: usize) -> &'a [u8] {
    let start = (*pos).min(buf.len());
    let end = start.saturating_add(n).min(buf.len());
    *pos = end;
    &buf[start..end]
}

#[inline]
fn len_at(buf: &[u8], pos: &mut usize) -> usize {
    usize::try_from(varint_at(buf, pos)).unwrap_or(usize::MAX)
}

/// Decodes the value at `*pos` of validated bytes, moving past it.
#[inline(always)]
pub(crate) fn value_at<'a>(buf: &'a [u8], pos: &mut usize) -> ValueRef<'a> {
    if buf.get(*pos) == Some(&T_INT) {
        *pos += 1;
        return ValueRef::Int(unzigzag(varint_at(buf, pos)));
    }
    value_at_any(buf, pos)
}

#[inline]
fn value_at_any<'a>(buf: &'a [u8], pos: &mut usize) -> ValueRef<'a> {
    let Some(&tag) = buf.get(*pos) else {
        return ValueRef::Null;
    };
    *pos += 1;
    match tag {
        T_INT => ValueRef::Int(unzigzag(varint_at(buf, pos))),
        T_STR => {
            let n = len_at(buf, pos);
            let b = slice_at(buf, pos, n);
            debug_assert!(std::str::from_utf8(b).is_ok());
            // SAFETY: this function only reads the bytes of a `Row` or of a buffer that
            // `validate_value` accepted. A row's bytes are either written by `write_value` from
            // a `&str` or were checked by `validate_value` (which runs `str::from_utf8` on
            // every text payload) before the `Row` was built, and a `Row` never hands out
            // mutable access to its bytes; so `b` is exactly a valid UTF-8 payload.
            ValueRef::Str(unsafe { std::str::from_utf8_unchecked(b) })
        }
        T_NULL => ValueRef::Null,
        T_FALSE => ValueRef::Bool(false),
        T_TRUE => ValueRef::Bool(true),
        T_TIMESTAMP => ValueRef::Timestamp(unzigzag(varint_at(buf, pos))),
        T_DOUBLE => {
            let b = slice_at(buf, pos, 8);
            let mut a = [0u8; 8];
            a[..b.len()].copy_from_slice(b);
            ValueRef::Double(f64::from_bits(u64::from_le_bytes(a)))
        }
        T_JSON => {
            let n = len_at(buf, pos);
            ValueRef::Json(JsonRef(slice_at(buf, pos, n)))
        }
        T_INTERVAL => {
            let months = unzigzag(varint_at(buf, pos)) as i32;
            let days = unzigzag(varint_at(buf, pos)) as i32;
            let us = unzigzag(varint_at(buf, pos));
            ValueRef::Interval(Interval { months, days, us })
        }
        T_VECTOR => {
            let n = len_at(buf, pos);
            ValueRef::Vector(VectorRef(slice_at(buf, pos, n.saturating_mul(4))))
        }
        _ => ValueRef::Null,
    }
}

/// Moves `*pos` past the value there (validated bytes) without decoding its payload.
#[inline(always)]
pub(crate) fn skip_at(buf: &[u8], pos: &mut usize) {
    if buf.get(*pos) == Some(&T_INT) {
        *pos += 1;
        skip_varint_at(buf, pos);
        return;
    }
    skip_any(buf, pos)
}

#[inline]
fn skip_any(buf: &[u8], pos: &mut usize) {
    let Some(&tag) = buf.get(*pos) else {
        return;
    };
    *pos += 1;
    match tag {
        T_INT | T_TIMESTAMP => skip_varint_at(buf, pos),
        T_STR | T_JSON => {
            let n = len_at(buf, pos);
            *pos = pos.saturating_add(n);
        }
        T_DOUBLE => *pos += 8,
        T_INTERVAL => {
            skip_varint_at(buf, pos);
            skip_varint_at(buf, pos);
            skip_varint_at(buf, pos);
        }
        T_VECTOR => {
            let n = len_at(buf, pos);
            *pos = pos.saturating_add(n.saturating_mul(4));
        }
        _ => {}
    }
}
