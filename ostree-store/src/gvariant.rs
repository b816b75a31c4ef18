//! The few pieces of the GVariant serialization format that OSTree objects use.
//!
//! Written by hand rather than with the `gvariant` crate (0.5) for two reasons:
//! the crate decodes leniently as the GVariant spec allows (malformed framing
//! yields default values), which would hide corrupt objects that we must report
//! as errors; and it cannot embed already-serialized `a{sv}` / `a(say)` bytes
//! into a new structure, which we need so that re-encoding a commit reproduces
//! the exact bytes (and so the checksum) libostree wrote. Only the containers
//! OSTree uses are covered: tuples, arrays, strings, byte arrays, variants.

/// A malformed GVariant value (the caller adds which object it came from).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed GVariant: {0}")]
pub struct GvError(pub String);

fn err<T>(msg: impl Into<String>) -> Result<T, GvError> {
    Err(GvError(msg.into()))
}

/// Size in bytes of framing offsets for a container of `total` bytes.
fn read_offset_size(total: usize) -> usize {
    if total > u32::MAX as usize {
        8
    } else if total > u16::MAX as usize {
        4
    } else if total > u8::MAX as usize {
        2
    } else if total > 0 {
        1
    } else {
        0
    }
}

/// Offset size chosen when writing a body of `body` bytes with `n` offsets.
fn write_offset_size(body: usize, n: usize) -> usize {
    if n == 0 {
        0
    } else if body + n <= u8::MAX as usize {
        1
    } else if body + 2 * n <= u16::MAX as usize {
        2
    } else if body + 4 * n <= u32::MAX as usize {
        4
    } else {
        8
    }
}

fn pad_to(buf: &mut Vec<u8>, align: usize) {
    while !buf.len().is_multiple_of(align) {
        buf.push(0);
    }
}

fn push_offsets(buf: &mut Vec<u8>, offsets: impl Iterator<Item = usize>, size: usize) {
    for off in offsets {
        buf.extend_from_slice(&(off as u64).to_le_bytes()[..size]);
    }
}

fn read_uint(data: &[u8], size: usize) -> usize {
    let mut b = [0u8; 8];
    b[..size].copy_from_slice(&data[..size]);
    u64::from_le_bytes(b) as usize
}

/// Extended attributes as (name with trailing NUL, value) pairs.
pub type Xattrs = Vec<(Vec<u8>, Vec<u8>)>;

/// One member of a tuple being written: its bytes, alignment, and whether its
/// type is fixed-size.
pub struct Member<'a> {
    /// Serialized member.
    pub data: &'a [u8],
    /// Alignment of the member's type.
    pub align: usize,
    /// Whether the member's type has a fixed size.
    pub fixed: bool,
}

/// Serializes a tuple (structure) of already-serialized members.
pub fn write_tuple(members: &[Member<'_>]) -> Vec<u8> {
    let mut buf = Vec::new();
    let mut offsets = Vec::new();
    let mut max_align = 1;
    let all_fixed = members.iter().all(|m| m.fixed);
    for (i, m) in members.iter().enumerate() {
        max_align = max_align.max(m.align);
        pad_to(&mut buf, m.align);
        buf.extend_from_slice(m.data);
        if !m.fixed && i + 1 != members.len() {
            offsets.push(buf.len());
        }
    }
    if all_fixed {
        if buf.is_empty() {
            buf.push(0);
        }
        pad_to(&mut buf, max_align);
    } else {
        let size = write_offset_size(buf.len(), offsets.len());
        push_offsets(&mut buf, offsets.into_iter().rev(), size);
    }
    buf
}

/// Serializes an array of already-serialized elements of one type.
pub fn write_array<'a>(
    elems: impl IntoIterator<Item = &'a [u8]>,
    align: usize,
    fixed: bool,
) -> Vec<u8> {
    let mut buf = Vec::new();
    let mut offsets = Vec::new();
    for e in elems {
        pad_to(&mut buf, align);
        buf.extend_from_slice(e);
        if !fixed {
            offsets.push(buf.len());
        }
    }
    let size = write_offset_size(buf.len(), offsets.len());
    push_offsets(&mut buf, offsets.into_iter(), size);
    buf
}

/// Serializes a string (`s`).
pub fn write_str(s: &str) -> Vec<u8> {
    let mut v = Vec::with_capacity(s.len() + 1);
    v.extend_from_slice(s.as_bytes());
    v.push(0);
    v
}

/// Serializes a variant (`v`) holding `value` of type `type_str`.
pub fn write_variant(value: &[u8], type_str: &str) -> Vec<u8> {
    let mut v = Vec::with_capacity(value.len() + type_str.len() + 1);
    v.extend_from_slice(value);
    v.push(0);
    v.extend_from_slice(type_str.as_bytes());
    v
}

/// Shape of one tuple member for reading: alignment and fixed size if any.
#[derive(Clone, Copy)]
pub struct Shape {
    /// Alignment of the member's type.
    pub align: usize,
    /// Size of the member if its type is fixed-size.
    pub fixed: Option<usize>,
}

/// Byte arrays, strings and other 1-aligned variable-size values.
pub const VAR1: Shape = Shape {
    align: 1,
    fixed: None,
};
/// Variable-size values aligned to 8 (`a{sv}`, `v`).
pub const VAR8: Shape = Shape {
    align: 8,
    fixed: None,
};
/// `u` (uint32).
pub const U32: Shape = Shape {
    align: 4,
    fixed: Some(4),
};
/// `t` (uint64).
pub const U64: Shape = Shape {
    align: 8,
    fixed: Some(8),
};

/// Splits a serialized tuple into its members' bytes, strictly.
pub fn read_tuple<'a>(data: &'a [u8], shapes: &[Shape]) -> Result<Vec<&'a [u8]>, GvError> {
    let osz = read_offset_size(data.len());
    let mut out = Vec::with_capacity(shapes.len());
    let mut pos = 0usize;
    let mut n_off = 0usize;
    // End of the body: offsets for non-fixed, non-last members sit at the end.
    let n_offsets = shapes
        .iter()
        .enumerate()
        .filter(|(i, s)| s.fixed.is_none() && i + 1 != shapes.len())
        .count();
    let body_end = data
        .len()
        .checked_sub(n_offsets * osz)
        .ok_or_else(|| GvError("tuple too short for its framing offsets".into()))?;
    for (i, s) in shapes.iter().enumerate() {
        pos = pos.div_ceil(s.align) * s.align;
        let end = match s.fixed {
            Some(n) => pos + n,
            None if i + 1 == shapes.len() => body_end,
            None => {
                n_off += 1;
                let at = data.len() - n_off * osz;
                read_uint(&data[at..], osz)
            }
        };
        if pos > end || end > body_end {
            return err(format!(
                "tuple member {i} out of bounds ({pos}..{end} of {body_end})"
            ));
        }
        out.push(&data[pos..end]);
        pos = end;
    }
    if n_offsets == 0 && shapes.iter().all(|s| s.fixed.is_some()) {
        let align = shapes.iter().map(|s| s.align).max().unwrap_or(1);
        if pos.div_ceil(align) * align != data.len() && !(shapes.is_empty() && data.len() == 1) {
            return err("fixed-size tuple has the wrong size");
        }
    }
    Ok(out)
}

/// Splits a serialized array into its elements' bytes, strictly.
pub fn read_array(data: &[u8], elem: Shape) -> Result<Vec<&[u8]>, GvError> {
    if let Some(n) = elem.fixed {
        if n == 0 || !data.len().is_multiple_of(n) {
            return err("fixed-element array length is not a multiple of the element size");
        }
        return Ok(data.chunks(n).collect());
    }
    if data.is_empty() {
        return Ok(Vec::new());
    }
    let osz = read_offset_size(data.len());
    let last_end = read_uint(&data[data.len() - osz..], osz);
    if last_end > data.len() || !(data.len() - last_end).is_multiple_of(osz) {
        return err("array framing offsets are inconsistent");
    }
    let n = (data.len() - last_end) / osz;
    let mut out = Vec::with_capacity(n);
    let mut pos = 0usize;
    for i in 0..n {
        let end = read_uint(&data[last_end + i * osz..], osz);
        pos = pos.div_ceil(elem.align) * elem.align;
        if pos > end || end > last_end {
            return err(format!("array element {i} out of bounds"));
        }
        out.push(&data[pos..end]);
        pos = end;
    }
    Ok(out)
}

/// Reads a string (`s`): must be NUL-terminated, without inner NULs, UTF-8.
pub fn read_str(data: &[u8]) -> Result<&str, GvError> {
    match data.split_last() {
        Some((0, body)) if !body.contains(&0) => {
            std::str::from_utf8(body).map_err(|_| GvError("string is not UTF-8".into()))
        }
        _ => err("string is not NUL-terminated"),
    }
}

/// Splits a variant (`v`) into (value bytes, type string).
pub fn read_variant(data: &[u8]) -> Result<(&[u8], &str), GvError> {
    let nul = data
        .iter()
        .rposition(|&b| b == 0)
        .ok_or_else(|| GvError("variant has no type string".into()))?;
    let ty = std::str::from_utf8(&data[nul + 1..])
        .map_err(|_| GvError("variant type string is not UTF-8".into()))?;
    Ok((&data[..nul], ty))
}

/// Reads a big-endian `u32` stored in a GVariant `u` (OSTree stores
/// uid/gid/mode byte-swapped to big-endian).
pub fn read_be_u32(data: &[u8]) -> u32 {
    let mut b = [0u8; 4];
    b.copy_from_slice(&data[..4]);
    u32::from_be_bytes(b)
}

/// Serializes `a(ayay)` from (name, value) pairs (extended attributes).
pub fn write_xattrs(xattrs: &[(Vec<u8>, Vec<u8>)]) -> Vec<u8> {
    let elems: Vec<Vec<u8>> = xattrs
        .iter()
        .map(|(k, v)| {
            write_tuple(&[
                Member {
                    data: k,
                    align: 1,
                    fixed: false,
                },
                Member {
                    data: v,
                    align: 1,
                    fixed: false,
                },
            ])
        })
        .collect();
    write_array(elems.iter().map(|e| e.as_slice()), 1, false)
}

/// Reads `a(ayay)` into (name, value) pairs.
pub fn read_xattrs(data: &[u8]) -> Result<Xattrs, GvError> {
    read_array(data, VAR1)?
        .into_iter()
        .map(|e| {
            let m = read_tuple(e, &[VAR1, VAR1])?;
            Ok((m[0].to_vec(), m[1].to_vec()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tuple_roundtrip_with_offsets() {
        let a = write_str("hello");
        let b = vec![1u8, 2, 3];
        let t = write_tuple(&[
            Member {
                data: &a,
                align: 1,
                fixed: false,
            },
            Member {
                data: &b,
                align: 1,
                fixed: false,
            },
        ]);
        // "hello\0" + 1,2,3 + offset 6
        assert_eq!(t, b"hello\0\x01\x02\x03\x06");
        let parts = read_tuple(&t, &[VAR1, VAR1]).unwrap();
        assert_eq!(read_str(parts[0]).unwrap(), "hello");
        assert_eq!(parts[1], &[1, 2, 3]);
    }

    #[test]
    fn array_of_strings() {
        let e: Vec<Vec<u8>> = ["a", "bc"].iter().map(|s| write_str(s)).collect();
        let arr = write_array(e.iter().map(|v| v.as_slice()), 1, false);
        assert_eq!(arr, b"a\0bc\0\x02\x05");
        let back = read_array(&arr, VAR1).unwrap();
        assert_eq!(back.len(), 2);
        assert_eq!(read_str(back[1]).unwrap(), "bc");
    }

    #[test]
    fn rejects_bad_offsets() {
        assert!(read_array(b"a\0\xff", VAR1).is_err());
        assert!(read_tuple(b"\x09", &[VAR1, VAR1]).is_err());
        assert!(read_str(b"abc").is_err());
    }

    #[test]
    fn unit_and_fixed_tuples() {
        assert_eq!(write_tuple(&[]), vec![0]);
        let u = 7u32.to_le_bytes();
        let y = [1u8];
        let t = write_tuple(&[
            Member {
                data: &u,
                align: 4,
                fixed: true,
            },
            Member {
                data: &y,
                align: 1,
                fixed: true,
            },
        ]);
        assert_eq!(t.len(), 8);
    }
}
