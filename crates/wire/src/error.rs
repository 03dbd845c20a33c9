use std::fmt;

/// A wire-format violation: which field of which format, at which octet offset.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    /// Format and field, such as `"IKE header: length"`.
    pub what: &'static str,
    /// Offset of the offending field from the start of the buffer given to the parser.
    pub offset: usize,
    pub reason: ErrorReason,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ErrorReason {
    /// The buffer ended before the field: `needed` octets, `available` present.
    Truncated { needed: usize, available: usize },
    /// A length field disagrees with the data or the format's limits.
    BadLength(usize),
    /// A field contains a value the format forbids.
    BadValue(u64),
    /// A checksum did not verify.
    BadChecksum,
}

impl Error {
    pub fn truncated(what: &'static str, offset: usize, needed: usize, available: usize) -> Error {
        Error { what, offset, reason: ErrorReason::Truncated { needed, available } }
    }

    pub fn bad_length(what: &'static str, offset: usize, length: usize) -> Error {
        Error { what, offset, reason: ErrorReason::BadLength(length) }
    }

    pub fn bad_value(what: &'static str, offset: usize, value: u64) -> Error {
        Error { what, offset, reason: ErrorReason::BadValue(value) }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.reason {
            ErrorReason::Truncated { needed, available } => write!(
                f,
                "{} at offset {}: truncated, {} octets needed but {} available",
                self.what, self.offset, needed, available
            ),
            ErrorReason::BadLength(l) => write!(f, "{} at offset {}: invalid length {}", self.what, self.offset, l),
            ErrorReason::BadValue(v) => write!(f, "{} at offset {}: invalid value {}", self.what, self.offset, v),
            ErrorReason::BadChecksum => write!(f, "{} at offset {}: checksum mismatch", self.what, self.offset),
        }
    }
}

impl std::error::Error for Error {}

pub type Result<T> = core::result::Result<T, Error>;
