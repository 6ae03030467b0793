//! The IDX format of the MNIST files (http://yann.lecun.com/exdb/mnist/): a 4-byte magic
//! `00 00 <type> <ndims>`, `ndims` big-endian u32 dimensions, then the values, big-endian,
//! row-major. Files may arrive gzipped (as they are distributed); we detect that by the gzip magic.
//!
//! The input is untrusted (a user's upload), so every length is checked before it is used:
//! a malformed file must give a `DataError`, never a panic (a trap in WebAssembly).

use std::io::Read;

use flate2::read::MultiGzDecoder;

use crate::error::{Error, Result};
use crate::tensor::shape_str;

/// Largest decompressed size we accept. MNIST's training images are 47 MB; this leaves room for
/// bigger sets while refusing decompression bombs before they exhaust wasm32's 4 GiB memory.
pub const MAX_DECOMPRESSED_BYTES: usize = 1 << 30;

/// Deflate cannot compress better than about 1032:1, so a gzip trailer claiming more than this
/// many output bytes per input byte is lying; used only to cap the pre-allocation hint.
const MAX_DEFLATE_RATIO: usize = 1032;

/// The element types IDX defines, by their type code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdxType {
    U8,
    I8,
    I16,
    I32,
    F32,
    F64,
}

/// Each type with its code, element size in bytes and name, in one table so they cannot drift.
const TYPES: [(IdxType, u8, usize, &str); 6] = [
    (IdxType::U8, 0x08, 1, "u8"),
    (IdxType::I8, 0x09, 1, "i8"),
    (IdxType::I16, 0x0B, 2, "i16"),
    (IdxType::I32, 0x0C, 4, "i32"),
    (IdxType::F32, 0x0D, 4, "f32"),
    (IdxType::F64, 0x0E, 8, "f64"),
];

impl IdxType {
    fn entry(self) -> (IdxType, u8, usize, &'static str) {
        TYPES[self as usize] // the table is in declaration order
    }
    pub fn from_code(code: u8) -> Option<IdxType> {
        TYPES.iter().find(|t| t.1 == code).map(|t| t.0)
    }
    pub fn code(self) -> u8 {
        self.entry().1
    }
    /// Bytes per element.
    pub fn size(self) -> usize {
        self.entry().2
    }
    pub fn name(self) -> &'static str {
        self.entry().3
    }
    /// True for the integer types, whose values are exact in f32 up to 2^24.
    pub fn is_integer(self) -> bool {
        !matches!(self, IdxType::F32 | IdxType::F64)
    }
}

/// A parsed IDX file: its shape and its raw values converted to f32 (no scaling).
#[derive(Debug, Clone, PartialEq)]
pub struct IdxArray {
    pub shape: Vec<usize>,
    pub data: Vec<f32>,
    /// The element type in the file, so callers can decide on scaling (u8 pixels → [0, 1]).
    pub dtype: IdxType,
}

/// An IDX file's values as stored (big-endian elements), or only those of its first rows.
#[derive(Debug, Clone, PartialEq)]
pub struct IdxRaw {
    /// The shape of the values kept: `shape[0]` is the number of rows kept.
    pub shape: Vec<usize>,
    /// Rows in the file (its first dimension).
    pub file_rows: usize,
    pub dtype: IdxType,
    /// The kept rows' elements, big-endian, `dtype.size()` bytes each.
    pub payload: Vec<u8>,
}

impl IdxRaw {
    /// The values converted to f32 (no scaling).
    pub fn to_f32(&self) -> Vec<f32> {
        convert(&self.payload, self.dtype)
    }
}

/// Parses an IDX file, plain or gzipped. `what` names the file in error messages.
pub fn parse_idx(bytes: &[u8], what: &str) -> Result<IdxArray> {
    let raw = read_idx(bytes.to_vec(), what, None)?;
    Ok(IdxArray { data: raw.to_f32(), shape: raw.shape, dtype: raw.dtype })
}

/// Reads an IDX file, plain or gzipped, keeping its values as stored; with `limit`, only its
/// first `limit` rows are kept, and a gzipped file is decompressed only as far as they go (so
/// what lies after them is not checked). A plain file's bytes are reused in place for the
/// values, so loading costs no copy of them.
pub fn read_idx(bytes: Vec<u8>, what: &str, limit: Option<usize>) -> Result<IdxRaw> {
    if bytes.starts_with(&[0x1f, 0x8b]) {
        read_gzip(&bytes, what, limit, MAX_DECOMPRESSED_BYTES)
    } else {
        read_plain(bytes, what, limit)
    }
}

/// What an IDX header says.
struct Header {
    dtype: IdxType,
    shape: Vec<usize>,
    /// Bytes of the header itself.
    len: usize,
    /// Bytes of data the shape calls for.
    data_len: usize,
}

impl Header {
    fn row_bytes(&self) -> usize {
        self.data_len.checked_div(self.shape[0]).unwrap_or(0)
    }
    /// The rows to keep under `limit`, and their bytes.
    fn kept(&self, limit: Option<usize>) -> (usize, usize) {
        let rows = limit.map_or(self.shape[0], |l| l.min(self.shape[0]));
        (rows, rows * self.row_bytes())
    }
    fn kept_shape(&self, rows: usize) -> Vec<usize> {
        std::iter::once(rows).chain(self.shape[1..].iter().copied()).collect()
    }
    fn truncated(&self, what: &str, found: usize) -> Error {
        Error::data(format!(
            "{what}: truncated: shape {} of {} values: expected {} bytes of data after the header, found {found}",
            shape_str(&self.shape),
            self.dtype.name(),
            self.data_len
        ))
    }
    fn trailing(&self, what: &str, extra: u64) -> Error {
        Error::data(format!(
            "{what}: {extra} bytes of trailing garbage after the {} bytes of data for shape {}",
            self.data_len,
            shape_str(&self.shape)
        ))
    }
}

/// Reads the header at the start of `bytes` (which may hold more after it).
fn parse_header(bytes: &[u8], what: &str) -> Result<Header> {
    let magic = match bytes.get(..4) {
        Some(&[a, b, c, d]) => [a, b, c, d],
        _ => {
            return Err(Error::data(format!(
                "{what}: {} bytes is too short for an IDX header (at least 4 needed)",
                bytes.len()
            )))
        }
    };
    if magic[0] != 0 || magic[1] != 0 {
        return Err(Error::data(format!(
            "{what}: wrong magic number {:02x} {:02x} {:02x} {:02x}; an IDX file starts with 00 00 \
             <type> <ndims> (is this an IDX file?)",
            magic[0], magic[1], magic[2], magic[3]
        )));
    }
    let dtype = IdxType::from_code(magic[2]).ok_or_else(|| {
        Error::data(format!(
            "{what}: unknown IDX type code 0x{:02x} (known: 0x08 u8, 0x09 i8, 0x0b i16, 0x0c i32, \
             0x0d f32, 0x0e f64)",
            magic[2]
        ))
    })?;
    let ndims = magic[3] as usize;
    if ndims == 0 {
        return Err(Error::data(format!("{what}: IDX header declares 0 dimensions")));
    }
    let len = 4 + 4 * ndims; // ndims ≤ 255: cannot overflow
    let dim_bytes = bytes.get(4..len).ok_or_else(|| {
        Error::data(format!(
            "{what}: {} bytes is too short for an IDX header with {ndims} dimensions ({len} bytes needed)",
            bytes.len()
        ))
    })?;
    let shape: Vec<usize> =
        dim_bytes.chunks_exact(4).map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]) as usize).collect();
    // Checked: dims come from the file, and their product overflows usize on wasm32 easily.
    let data_len = shape.iter().try_fold(dtype.size(), |acc, &d| acc.checked_mul(d)).ok_or_else(|| {
        Error::data(format!("{what}: IDX dimensions {} are too large (the data size overflows)", shape_str(&shape)))
    })?;
    Ok(Header { dtype, shape, len, data_len })
}

fn read_plain(mut bytes: Vec<u8>, what: &str, limit: Option<usize>) -> Result<IdxRaw> {
    let h = parse_header(&bytes, what)?;
    let found = bytes.len() - h.len; // h.len ≤ bytes.len(): checked by parse_header
    if found < h.data_len {
        return Err(h.truncated(what, found));
    }
    if found > h.data_len {
        return Err(h.trailing(what, (found - h.data_len) as u64));
    }
    let (rows, kept) = h.kept(limit);
    bytes.copy_within(h.len..h.len + kept, 0);
    bytes.truncate(kept);
    if bytes.capacity() > 2 * kept {
        bytes.shrink_to_fit();
    }
    Ok(IdxRaw { shape: h.kept_shape(rows), file_rows: h.shape[0], dtype: h.dtype, payload: bytes })
}

/// Decompresses a gzip stream (all members) as far as the kept rows, refusing files that would
/// decompress to more than `max` bytes.
fn read_gzip(bytes: &[u8], what: &str, limit: Option<usize>, max: usize) -> Result<IdxRaw> {
    let corrupt = |e: std::io::Error| Error::data(format!("{what}: corrupt gzip data ({e})"));
    let too_big =
        || Error::data(format!("{what}: gzip data decompresses to more than {max} bytes; refusing to load it"));
    let mut dec = MultiGzDecoder::new(bytes);
    // The longest header (255 dimensions) is 1024 bytes; what follows it is data.
    let mut payload = Vec::new();
    (&mut dec).take(4 + 4 * 255).read_to_end(&mut payload).map_err(corrupt)?;
    let h = parse_header(&payload, what)?;
    let (rows, kept) = h.kept(limit);
    if h.len.checked_add(kept).is_none_or(|total| total > max) {
        return Err(too_big());
    }
    payload.drain(..h.len);
    let mut extra = payload.len().saturating_sub(kept) as u64;
    payload.truncate(kept);
    // The trailer's ISIZE (output length mod 2^32) lets us allocate once instead of doubling,
    // which matters near the limit on wasm32. It is untrusted, so cap it by what deflate can do.
    let hint = match bytes.len().checked_sub(4).and_then(|i| bytes.get(i..)) {
        Some(&[a, b, c, d]) => u32::from_le_bytes([a, b, c, d]) as usize,
        _ => 0,
    };
    let hint = hint.min(bytes.len().saturating_mul(MAX_DEFLATE_RATIO)).min(kept);
    // A failed reservation is not an error yet: read_to_end reports it if memory really runs out.
    let _ = payload.try_reserve_exact(hint.saturating_sub(payload.len()));
    let missing = (kept - payload.len()) as u64;
    (&mut dec).take(missing).read_to_end(&mut payload).map_err(corrupt)?;
    if payload.len() < kept {
        return Err(h.truncated(what, payload.len()));
    }
    if rows == h.shape[0] {
        // Everything was asked for: read to the end, which checks the CRC and what follows.
        let room = (max - h.len - kept) as u64;
        extra += std::io::copy(&mut (&mut dec).take(room + 1), &mut std::io::sink()).map_err(corrupt)?;
        if extra > room {
            return Err(too_big());
        }
        if extra > 0 {
            return Err(h.trailing(what, extra));
        }
    }
    Ok(IdxRaw { shape: h.kept_shape(rows), file_rows: h.shape[0], dtype: h.dtype, payload })
}

/// Big-endian elements to f32; `payload.len()` is a multiple of the element size.
fn convert(payload: &[u8], dtype: IdxType) -> Vec<f32> {
    match dtype {
        IdxType::U8 => payload.iter().map(|&b| b as f32).collect(),
        IdxType::I8 => payload.iter().map(|&b| b as i8 as f32).collect(),
        IdxType::I16 => payload.chunks_exact(2).map(|c| i16::from_be_bytes([c[0], c[1]]) as f32).collect(),
        IdxType::I32 => payload.chunks_exact(4).map(|c| i32::from_be_bytes([c[0], c[1], c[2], c[3]]) as f32).collect(),
        IdxType::F32 => payload.chunks_exact(4).map(|c| f32::from_be_bytes([c[0], c[1], c[2], c[3]])).collect(),
        IdxType::F64 => payload
            .chunks_exact(8)
            .map(|c| f64::from_be_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]) as f32)
            .collect(),
    }
}

/// Test helpers shared with the dataset tests: IDX files written in memory.
#[cfg(test)]
pub(crate) mod testutil {
    use std::io::Write;

    /// Header for `type_code` and `dims`, followed by `payload` as given.
    pub fn idx_bytes(type_code: u8, dims: &[u32], payload: &[u8]) -> Vec<u8> {
        let mut out = vec![0, 0, type_code, dims.len() as u8];
        for d in dims {
            out.extend_from_slice(&d.to_be_bytes());
        }
        out.extend_from_slice(payload);
        out
    }

    pub fn u8_idx(dims: &[u32], values: &[u8]) -> Vec<u8> {
        idx_bytes(0x08, dims, values)
    }

    pub fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        enc.write_all(bytes).unwrap();
        enc.finish().unwrap()
    }
}

#[cfg(test)]
mod tests {
    use super::testutil::*;
    use super::*;
    use crate::error::ErrorKind;
    use crate::rng::Rng;

    fn data_err(bytes: &[u8], needle: &str) {
        let e = parse_idx(bytes, "test-file").unwrap_err();
        assert_eq!(e.kind, ErrorKind::Data, "{e}");
        assert!(e.message.contains("test-file"), "{e}");
        assert!(e.message.contains(needle), "expected {needle:?} in {e}");
    }

    #[test]
    fn type_table_is_consistent() {
        for (i, &(t, code, size, name)) in TYPES.iter().enumerate() {
            assert_eq!((t as usize, t.code(), t.size(), t.name()), (i, code, size, name));
            assert_eq!(IdxType::from_code(code), Some(t));
        }
        assert_eq!(IdxType::from_code(0x0A), None);
    }

    #[test]
    fn parses_u8_images() {
        let values: Vec<u8> = (0..24).collect();
        let a = parse_idx(&u8_idx(&[2, 3, 4], &values), "x").unwrap();
        assert_eq!(a.shape, vec![2, 3, 4]);
        assert_eq!(a.dtype, IdxType::U8);
        assert_eq!(a.data, (0..24).map(|v| v as f32).collect::<Vec<_>>());
    }

    #[test]
    fn round_trips_every_type_code() {
        let values = [0.0f64, 1.0, -1.0, 7.0, -128.0, 127.0];
        for dtype in [IdxType::I8, IdxType::I16, IdxType::I32, IdxType::F32, IdxType::F64] {
            let mut payload = Vec::new();
            for &v in &values {
                match dtype {
                    IdxType::I8 => payload.extend_from_slice(&(v as i8).to_be_bytes()),
                    IdxType::I16 => payload.extend_from_slice(&(v as i16 * 100).to_be_bytes()),
                    IdxType::I32 => payload.extend_from_slice(&(v as i32 * 100_000).to_be_bytes()),
                    IdxType::F32 => payload.extend_from_slice(&(v as f32 * 0.5).to_be_bytes()),
                    IdxType::F64 => payload.extend_from_slice(&(v * 0.25).to_be_bytes()),
                    IdxType::U8 => unreachable!(),
                }
            }
            let scale = match dtype {
                IdxType::I16 => 100.0,
                IdxType::I32 => 100_000.0,
                IdxType::F32 => 0.5,
                IdxType::F64 => 0.25,
                _ => 1.0,
            };
            let bytes = idx_bytes(dtype.code(), &[3, 2], &payload);
            for input in [bytes.clone(), gzip(&bytes)] {
                let a = parse_idx(&input, "x").unwrap();
                assert_eq!(a.dtype, dtype);
                assert_eq!(IdxType::from_code(dtype.code()), Some(dtype));
                assert_eq!(a.shape, vec![3, 2]);
                let want: Vec<f32> = values.iter().map(|&v| (v * scale) as f32).collect();
                assert_eq!(a.data, want, "{dtype:?}");
            }
        }
        let a = parse_idx(&u8_idx(&[2], &[0, 255]), "x").unwrap();
        assert_eq!(a.data, vec![0.0, 255.0]);
    }

    #[test]
    fn gzip_matches_plain() {
        let values: Vec<u8> = (0..=255).collect();
        let plain = u8_idx(&[16, 16], &values);
        assert_eq!(parse_idx(&gzip(&plain), "x").unwrap(), parse_idx(&plain, "x").unwrap());
        // Two concatenated gzip members are one stream, as gunzip treats them.
        let (a, b) = plain.split_at(100);
        let two = [gzip(a), gzip(b)].concat();
        assert_eq!(parse_idx(&two, "x").unwrap().data, values.iter().map(|&v| v as f32).collect::<Vec<_>>());
    }

    #[test]
    fn zero_length_dimension_is_an_empty_array() {
        let a = parse_idx(&u8_idx(&[0, 28, 28], &[]), "x").unwrap();
        assert_eq!(a.shape, vec![0, 28, 28]);
        assert!(a.data.is_empty());
    }

    #[test]
    fn error_too_short_for_header() {
        data_err(&[], "0 bytes is too short for an IDX header");
        data_err(&[0, 0, 8], "3 bytes is too short");
        data_err(
            &[0, 0, 8, 3, 0, 0, 0, 1, 0, 0],
            "10 bytes is too short for an IDX header with 3 dimensions (16 bytes",
        );
    }

    #[test]
    fn error_wrong_magic() {
        data_err(&[0, 1, 8, 1, 0, 0, 0, 0], "wrong magic number 00 01 08 01");
        data_err(b"P5\n28 28\n255\n", "wrong magic");
    }

    #[test]
    fn error_unknown_type_code() {
        data_err(&idx_bytes(0x0A, &[1], &[0]), "unknown IDX type code 0x0a");
    }

    #[test]
    fn error_zero_dimensions() {
        data_err(&[0, 0, 8, 0], "declares 0 dimensions");
    }

    #[test]
    fn error_truncated_data() {
        data_err(&u8_idx(&[2, 3], &[1, 2, 3, 4]), "expected 6 bytes of data after the header, found 4");
        data_err(&idx_bytes(0x0E, &[2], &[0; 15]), "expected 16 bytes of data after the header, found 15");
    }

    #[test]
    fn error_trailing_garbage() {
        data_err(&u8_idx(&[2], &[1, 2, 3]), "1 bytes of trailing garbage after the 2 bytes");
    }

    #[test]
    fn error_size_overflow() {
        let dims = [u32::MAX; 4];
        data_err(&idx_bytes(0x0E, &dims, &[]), "too large");
    }

    #[test]
    fn error_corrupt_gzip() {
        let mut gz = gzip(&u8_idx(&[64], &[7; 64]));
        data_err(&gz[..gz.len() / 2], "corrupt gzip data");
        let n = gz.len();
        gz[n - 6] ^= 0xff; // inside the CRC32 of the trailer
        data_err(&gz, "corrupt gzip data");
        data_err(&[0x1f, 0x8b], "corrupt gzip data");
        data_err(&[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff], "corrupt gzip data");
    }

    #[test]
    fn decompression_is_bounded() {
        let gz = gzip(&u8_idx(&[1000], &[0; 1000]));
        let e = read_gzip(&gz, "big-file", None, 500).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Data);
        assert!(e.message.contains("big-file") && e.message.contains("more than 500 bytes"), "{e}");
        assert_eq!(read_gzip(&gz, "big-file", None, 1008).unwrap().payload.len(), 1000);
        // Garbage after the data counts too: 1008 bytes of file and 50 more.
        let long = gzip(&[u8_idx(&[1000], &[0; 1000]), vec![0; 50]].concat());
        assert!(read_gzip(&long, "big-file", None, 1030).unwrap_err().message.contains("more than 1030"));
        assert!(read_gzip(&long, "big-file", None, 2000).unwrap_err().message.contains("50 bytes of trailing garbage"));
    }

    #[test]
    fn a_limit_keeps_the_first_rows_only() {
        let values: Vec<u8> = (0..60).collect();
        let plain = u8_idx(&[10, 2, 3], &values);
        for file in [plain.clone(), gzip(&plain)] {
            let raw = read_idx(file.clone(), "x", Some(4)).unwrap();
            assert_eq!((raw.shape.clone(), raw.file_rows, raw.dtype), (vec![4, 2, 3], 10, IdxType::U8));
            assert_eq!(raw.payload, values[..24]);
            assert_eq!(read_idx(file.clone(), "x", Some(10)).unwrap(), read_idx(file.clone(), "x", None).unwrap());
            assert_eq!(read_idx(file.clone(), "x", Some(99)).unwrap().shape, vec![10, 2, 3]);
            assert_eq!(read_idx(file, "x", Some(0)).unwrap().payload.len(), 0);
        }
        // A plain file is checked whole even so; a gzip one only as far as the rows kept.
        let mut long = plain.clone();
        long.push(7);
        assert!(read_idx(long.clone(), "x", Some(2)).unwrap_err().message.contains("1 bytes of trailing garbage"));
        assert_eq!(read_idx(gzip(&long), "x", Some(2)).unwrap().payload, values[..12]);
        assert!(read_idx(gzip(&long), "x", None).unwrap_err().message.contains("1 bytes of trailing garbage"));
        // A gzip file that ends before the kept rows is truncated.
        let short = gzip(&plain[..plain.len() - 40]);
        let e = read_idx(short, "x", Some(5)).unwrap_err();
        assert!(e.message.contains("x: truncated") && e.message.contains("found 20"), "{e}");
        // Wider elements: rows of i16.
        let mut payload = Vec::new();
        for v in 0..6i16 {
            payload.extend_from_slice(&(v - 3).to_be_bytes());
        }
        let raw = read_idx(gzip(&idx_bytes(0x0B, &[3, 2], &payload)), "x", Some(2)).unwrap();
        assert_eq!((raw.shape.clone(), raw.to_f32()), (vec![2, 2], vec![-3.0, -2.0, -1.0, 0.0]));
    }

    #[test]
    fn fuzz_never_panics() {
        let mut payload = Vec::new();
        for v in 0..30i16 {
            payload.extend_from_slice(&(v * 37 - 500).to_be_bytes());
        }
        let valid = idx_bytes(0x0B, &[5, 3, 2], &payload);
        let valid_gz = gzip(&valid);
        for file in [&valid, &valid_gz] {
            for cut in 0..file.len() {
                assert!(parse_idx(&file[..cut], "cut").is_err(), "prefix of {cut} bytes parsed");
                let _ = read_idx(file[..cut].to_vec(), "cut", Some(2));
            }
            assert!(parse_idx(file, "whole").is_ok());
        }
        let mut rng = Rng::new(0xB0A7);
        for i in 0..4000 {
            let len = rng.below(48) as usize;
            let mut bytes: Vec<u8> = (0..len).map(|_| rng.next_u32() as u8).collect();
            // Steer some inputs past the first checks so the deeper paths get exercised too.
            match i % 4 {
                1 if len >= 4 => {
                    bytes[0] = 0;
                    bytes[1] = 0;
                    bytes[2] = [0x08, 0x09, 0x0B, 0x0C, 0x0D, 0x0E][rng.below(6) as usize];
                    bytes[3] = rng.below(4) as u8;
                }
                2 if len >= 2 => {
                    bytes[0] = 0x1f;
                    bytes[1] = 0x8b;
                }
                3 => {
                    // Random bit flips in the valid files.
                    let src = if rng.below(2) == 0 { &valid } else { &valid_gz };
                    bytes = src.clone();
                    for _ in 0..=rng.below(3) {
                        let at = rng.below(bytes.len() as u32) as usize;
                        bytes[at] ^= 1 << rng.below(8);
                    }
                }
                _ => {}
            }
            let _ = parse_idx(&bytes, "random");
            let _ = read_idx(bytes, "random", Some(rng.below(4) as usize));
        }
    }
}
