//! One error type for every public entry point of the core.
//!
//! Every function that takes user input validates it and returns an [`Error`] before any
//! kernel runs, so bad input never becomes a panic (which in WebAssembly is a trap that
//! leaves the module unusable).

use std::fmt;

/// What kind of mistake an [`Error`] reports; crosses the WASM boundary as the JS error's `name`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// Shapes or ranks that do not fit together.
    Shape,
    /// An argument out of its allowed range (a negative rate, an axis out of range, ...).
    Argument,
    /// Malformed data: a corrupt or truncated file, counts that disagree.
    Data,
    /// A numerical failure detected during training (NaN or Inf).
    Numeric,
    /// An operation on a handle that no longer exists or is in the wrong state.
    State,
    /// A request for more memory than the module can still have.
    OutOfMemory,
}

impl ErrorKind {
    pub fn name(self) -> &'static str {
        match self {
            ErrorKind::Shape => "ShapeError",
            ErrorKind::Argument => "ArgumentError",
            ErrorKind::Data => "DataError",
            ErrorKind::Numeric => "NumericError",
            ErrorKind::State => "StateError",
            ErrorKind::OutOfMemory => "OutOfMemoryError",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Error {
    pub kind: ErrorKind,
    pub message: String,
}

impl Error {
    pub fn shape(message: impl Into<String>) -> Self {
        Error { kind: ErrorKind::Shape, message: message.into() }
    }
    pub fn argument(message: impl Into<String>) -> Self {
        Error { kind: ErrorKind::Argument, message: message.into() }
    }
    pub fn data(message: impl Into<String>) -> Self {
        Error { kind: ErrorKind::Data, message: message.into() }
    }
    pub fn numeric(message: impl Into<String>) -> Self {
        Error { kind: ErrorKind::Numeric, message: message.into() }
    }
    pub fn state(message: impl Into<String>) -> Self {
        Error { kind: ErrorKind::State, message: message.into() }
    }
    pub fn out_of_memory(message: impl Into<String>) -> Self {
        Error { kind: ErrorKind::OutOfMemory, message: message.into() }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind.name(), self.message)
    }
}

impl std::error::Error for Error {}

pub type Result<T> = std::result::Result<T, Error>;
