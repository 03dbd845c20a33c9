//! Bounds-checked big-endian reads used by the payload parsers.

use crate::{Error, Result};

pub(crate) fn slice<'a>(
    data: &'a [u8],
    offset: usize,
    len: usize,
    what: &'static str,
) -> Result<&'a [u8]> {
    match offset.checked_add(len) {
        Some(end) if end <= data.len() => Ok(&data[offset..end]),
        _ => Err(Error::truncated(
            what,
            offset,
            len,
            data.len().saturating_sub(offset),
        )),
    }
}

pub(crate) fn u8_at(data: &[u8], offset: usize, what: &'static str) -> Result<u8> {
    Ok(slice(data, offset, 1, what)?[0])
}

pub(crate) fn u16_at(data: &[u8], offset: usize, what: &'static str) -> Result<u16> {
    let b = slice(data, offset, 2, what)?;
    Ok(u16::from_be_bytes([b[0], b[1]]))
}
