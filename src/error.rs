//! One error type for the whole library, and its mapping onto c-blosc2's
//! negative `BLOSC2_ERROR_*` codes at the C boundary.
#![forbid(unsafe_code)]

/// c-blosc2's error codes (`blosc2.h`, `BLOSC2_ERROR_*`), the ones this codec returns.
pub mod blosc2_code {
    /// Generic failure.
    pub const FAILURE: i32 = -1;
    /// Invalid data (a corrupt or mismatched compressed block).
    pub const DATA: i32 = -3;
    /// Memory allocation failed.
    pub const MEMORY_ALLOC: i32 = -4;
    /// Not enough input to read (a truncated block).
    pub const READ_BUFFER: i32 = -5;
    /// Not enough space in the output buffer.
    pub const WRITE_BUFFER: i32 = -6;
    /// The codec cannot handle this data (dtype, shape, filters).
    pub const CODEC_SUPPORT: i32 = -7;
    /// A bad codec parameter (the codebook, `codec_meta`).
    pub const CODEC_PARAM: i32 = -8;
    /// A format version this build does not know.
    pub const VERSION_SUPPORT: i32 = -10;
    /// An invalid value in a header (block header, b2nd metalayer).
    pub const INVALID_HEADER: i32 = -11;
    /// An invalid argument to a function.
    pub const INVALID_PARAM: i32 = -12;
    /// A NULL pointer where one is not allowed.
    pub const NULL_POINTER: i32 = -32;
    /// A required metalayer is missing.
    pub const METALAYER_NOT_FOUND: i32 = -34;
    /// blosc2-vq's own, below c-blosc2's codes: training stopped by its progress callback.
    pub const CANCELLED: i32 = -100;
}

/// Everything that can go wrong in training, codebook handling and block coding.
#[derive(Debug, thiserror::Error, Clone, PartialEq)]
#[non_exhaustive]
pub enum Error {
    /// A model parameter is out of its valid range.
    #[error("invalid parameter `{name}`: {reason}")]
    InvalidParam {
        /// The parameter's name.
        name: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// Training data unusable (too few tiles, non-finite values, wrong shape).
    #[error("invalid training data: {0}")]
    InvalidData(String),
    /// The SChunk has no `vq` metalayer.
    #[error(
        "the SChunk has no `vq` metalayer and no error bound was given: store compression \
         settings (an error bound: blosc2_vq_settings_new) or a codebook \
         (blosc2_vq_codebook_train) there, or pass blosc2_vq_codec_params"
    )]
    MissingCodebook,
    /// The codebook bytes could not be decoded or failed validation.
    #[error("invalid codebook: {0}")]
    InvalidCodebook(String),
    /// The block geometry (b2nd metalayer, schunk fields, sizes) is invalid or unsupported.
    #[error("invalid block geometry: {0}")]
    InvalidGeometry(String),
    /// The data type cannot be coded.
    #[error("unsupported data type: {0}")]
    UnsupportedDtype(String),
    /// c-blosc2 was configured in a way that would destroy the data before the codec sees it.
    #[error("unsupported compression settings: {0}")]
    UnsupportedSettings(String),
    /// A compressed block is corrupt or was made with another codebook.
    #[error("corrupt block: {0}")]
    CorruptBlock(String),
    /// A compressed block is shorter than its header says.
    #[error("truncated block: {0}")]
    TruncatedBlock(String),
    /// A block or codebook of a format version this build does not know.
    #[error("unsupported format version {found} (this build reads up to {supported})")]
    UnsupportedVersion {
        /// The version found in the data.
        found: u32,
        /// The newest version this build reads.
        supported: u32,
    },
    /// The output buffer is too small.
    #[error("output buffer too small: need {needed} bytes, have {available}")]
    OutputTooSmall {
        /// Bytes needed.
        needed: usize,
        /// Bytes available.
        available: usize,
    },
    /// An allocation of this many bytes failed.
    #[error("out of memory allocating {0} bytes")]
    OutOfMemory(usize),
    /// A NULL pointer was passed where one is required.
    #[error("NULL pointer passed for `{0}`")]
    NullPointer(&'static str),
    /// A Rust panic was caught at the C boundary (a bug: please report it).
    #[error("internal error (caught panic): {0}")]
    Panic(String),
    /// Training was stopped by its progress observer (Ctrl-C in Python, say).
    #[error("training cancelled")]
    Cancelled,
}

impl Error {
    /// Shorthand for [`Error::InvalidParam`].
    pub fn param(name: &'static str, reason: impl Into<String>) -> Self {
        Error::InvalidParam {
            name,
            reason: reason.into(),
        }
    }

    /// The c-blosc2 error code that best describes this error (always negative).
    pub fn blosc2_code(&self) -> i32 {
        use blosc2_code::*;
        match self {
            Error::InvalidParam { .. } => INVALID_PARAM,
            Error::InvalidData(_) => INVALID_PARAM,
            Error::MissingCodebook => METALAYER_NOT_FOUND,
            Error::InvalidCodebook(_) => CODEC_PARAM,
            Error::InvalidGeometry(_) => INVALID_HEADER,
            Error::UnsupportedDtype(_) => CODEC_SUPPORT,
            Error::UnsupportedSettings(_) => CODEC_SUPPORT,
            Error::CorruptBlock(_) => DATA,
            Error::TruncatedBlock(_) => READ_BUFFER,
            Error::UnsupportedVersion { .. } => VERSION_SUPPORT,
            Error::OutputTooSmall { .. } => WRITE_BUFFER,
            Error::OutOfMemory(_) => MEMORY_ALLOC,
            Error::NullPointer(_) => NULL_POINTER,
            Error::Panic(_) => FAILURE,
            Error::Cancelled => CANCELLED,
        }
    }
}

/// The library's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
