//! Writing to an `embedded_io::Write` sink without its pitfalls.

use core::fmt;

/// A sink failed while a record was being written.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[non_exhaustive]
pub enum SinkError<E> {
    /// The sink returned this error.
    Io(E),
    /// The sink accepted 0 bytes of a non-empty write: it is full or closed.
    /// (`embedded_io::Write::write_all` would panic here; this crate does not.)
    WriteZero,
}

impl<E: fmt::Debug> fmt::Display for SinkError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SinkError::Io(e) => write!(f, "the sink failed: {e:?}"),
            SinkError::WriteZero => f.write_str("the sink accepted no bytes (full or closed)"),
        }
    }
}

impl<E: fmt::Debug> core::error::Error for SinkError<E> {}

/// Writes all of `bytes`, retrying short writes; a write of 0 bytes is an error.
pub(crate) fn write_all<W: embedded_io::Write>(
    sink: &mut W,
    mut bytes: &[u8],
) -> Result<(), SinkError<W::Error>> {
    while !bytes.is_empty() {
        match sink.write(bytes) {
            Ok(0) => return Err(SinkError::WriteZero),
            Ok(n) => bytes = bytes.get(n..).unwrap_or_default(),
            Err(e) => return Err(SinkError::Io(e)),
        }
    }
    Ok(())
}

/// A sink that only counts: the length a record will take, before it is
/// written (to reserve its place in a queue or a flash sector).
#[derive(Default)]
pub(crate) struct Counter(pub(crate) usize);

impl embedded_io::ErrorType for Counter {
    type Error = core::convert::Infallible;
}

impl embedded_io::Write for Counter {
    fn write(&mut self, buf: &[u8]) -> Result<usize, Self::Error> {
        self.0 += buf.len();
        Ok(buf.len())
    }

    fn flush(&mut self) -> Result<(), Self::Error> {
        Ok(())
    }
}
