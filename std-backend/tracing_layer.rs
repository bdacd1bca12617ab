//! The `tracing` front end (feature `tracing`): a
//! [`tracing_subscriber::Layer`] that appends each event to a [`LogFile`].
//!
//! ```
//! use std::sync::Arc;
//! use immutable_log::std_backend::{LogFile, TracingLayer};
//! use tracing_subscriber::layer::SubscriberExt;
//!
//! let path = std::env::temp_dir().join(format!("tracing-doc-{}.log", std::process::id()));
//! # let _ = std::fs::remove_file(&path);
//! let log = Arc::new(LogFile::open(&path)?);
//! let subscriber = tracing_subscriber::registry().with(TracingLayer::new(Arc::clone(&log)));
//! tracing::subscriber::with_default(subscriber, || {
//!     tracing::info!(user = "alice", "logged in");
//! });
//! let text = std::fs::read_to_string(&path)?;
//! assert!(text.contains(" - INFO - rust_out: logged in user=\"alice\"|"), "{text}");
//! # std::fs::remove_file(&path)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt::{self, Write as _};
use std::sync::Arc;
use std::time::SystemTime;

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Subscriber};
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::registry::LookupSpan;

use super::{Entry, LogFile};
use crate::Level;

/// A `tracing_subscriber::Layer` that appends every event it sees to a
/// [`LogFile`], on the thread that emits it.
///
/// The record's message is `<target>: [<span scope>: ]<message> <key>=<value>…`:
/// the event's `message` field first, its other fields after it as
/// `key=value` (strings quoted, as `Debug` writes them), and, when asked
/// ([`with_span_scope`](Self::with_span_scope)), the names and fields of the
/// spans it is in, outermost first (`request{id=7}:db: …`). The log's
/// [`Format`](super::Format) adds the time and the level around it.
///
/// Filter with the usual `tracing_subscriber` filters (`EnvFilter`,
/// `Targets`, `LevelFilter`) as a per-layer filter, and stack it beside other
/// layers (a console `fmt` layer): it takes no part in their decisions.
///
/// An event that cannot be written (a full disk, a log closed by a failure)
/// is not lost silently: it is counted ([`LogFile::note_unlogged`]) and the
/// next record written states how many were lost (`"unlogged":N`, under its
/// hash). A caller waits at most for one record's write (and, with
/// [`Durability::Sync`](super::Durability::Sync), its sync; a rotation when
/// one is due), never for other threads' formatting.
#[derive(Clone, Debug)]
#[cfg_attr(docsrs, doc(cfg(feature = "tracing")))]
pub struct TracingLayer {
    log: Arc<LogFile>,
    spans: bool,
}

impl TracingLayer {
    /// A layer writing into `log`, without span scopes.
    pub fn new(log: Arc<LogFile>) -> Self {
        TracingLayer { log, spans: false }
    }

    /// Whether each record names the spans its event is in, with their
    /// fields (off by default).
    pub fn with_span_scope(mut self, spans: bool) -> Self {
        self.spans = spans;
        self
    }

    /// The log this layer writes to.
    pub fn log(&self) -> &Arc<LogFile> {
        &self.log
    }
}

/// A span's fields as text, kept in the span's extensions while span scopes
/// are on.
struct SpanFields(String);

impl<S> Layer<S> for TracingLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        if !self.spans {
            return;
        }
        let Some(span) = ctx.span(id) else { return };
        let mut text = String::new();
        attrs.record(&mut FieldWriter::all(&mut text));
        span.extensions_mut().insert(SpanFields(text));
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        if !self.spans {
            return;
        }
        let Some(span) = ctx.span(id) else { return };
        let mut extensions = span.extensions_mut();
        if let Some(SpanFields(text)) = extensions.get_mut::<SpanFields>() {
            values.record(&mut FieldWriter::all(text));
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let metadata = event.metadata();
        let mut scope = String::new();
        if self.spans {
            if let Some(spans) = ctx.event_scope(event) {
                for span in spans.from_root() {
                    scope.push_str(span.name());
                    let extensions = span.extensions();
                    if let Some(SpanFields(fields)) = extensions.get::<SpanFields>() {
                        if !fields.is_empty() {
                            let _ = write!(scope, "{{{fields}}}");
                        }
                    }
                    scope.push(':');
                }
            }
        }
        let text = EventText {
            target: metadata.target(),
            scope: &scope,
            event,
        };
        let written = self.log.append_entry(Entry::new(
            SystemTime::now(),
            level_of(metadata.level()),
            metadata.target(),
            format_args!("{text}"),
        ));
        if written.is_err() {
            self.log.note_unlogged();
        }
    }
}

/// `tracing`'s level as a record's level.
fn level_of(level: &tracing::Level) -> Level {
    match *level {
        tracing::Level::TRACE => Level::Trace,
        tracing::Level::DEBUG => Level::Debug,
        tracing::Level::INFO => Level::Info,
        tracing::Level::WARN => Level::Warning,
        tracing::Level::ERROR => Level::Error,
    }
}

/// An event's message text, written straight into the record's buffer.
struct EventText<'a> {
    target: &'a str,
    scope: &'a str,
    event: &'a Event<'a>,
}

impl fmt::Display for EventText<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ", self.target)?;
        if !self.scope.is_empty() {
            write!(f, "{} ", self.scope)?;
        }
        let mut message = FieldWriter::new(&mut *f, Fields::Message, false);
        self.event.record(&mut message);
        let (any, result) = (message.any, message.result);
        result?;
        let mut rest = FieldWriter::new(&mut *f, Fields::Others, any);
        self.event.record(&mut rest);
        rest.result
    }
}

/// Which fields a [`FieldWriter`] writes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Fields {
    /// The `message` field alone, its value bare.
    Message,
    /// Every field but `message`, as `key=value`.
    Others,
    /// Every field as `key=value` (a span's).
    All,
}

/// Writes fields as text, separated by spaces.
struct FieldWriter<W> {
    out: W,
    which: Fields,
    /// Something was written already (a separating space is due).
    any: bool,
    result: fmt::Result,
}

impl<W: fmt::Write> FieldWriter<W> {
    fn new(out: W, which: Fields, any: bool) -> Self {
        FieldWriter {
            out,
            which,
            any,
            result: Ok(()),
        }
    }

    fn write(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if self.result.is_err() {
            return;
        }
        let is_message = field.name() == "message";
        let space = if self.any { " " } else { "" };
        self.result = match self.which {
            Fields::Message if is_message => write!(self.out, "{space}{value:?}"),
            Fields::Others if !is_message => write!(self.out, "{space}{}={value:?}", field.name()),
            Fields::All => write!(self.out, "{space}{}={value:?}", field.name()),
            _ => return,
        };
        self.any = true;
    }
}

impl<'a> FieldWriter<&'a mut String> {
    /// Writes every field as `key=value`, after what `out` holds (a span's).
    fn all(out: &'a mut String) -> Self {
        let any = !out.is_empty();
        FieldWriter::new(out, Fields::All, any)
    }
}

impl<W: fmt::Write> Visit for FieldWriter<W> {
    fn record_str(&mut self, field: &Field, value: &str) {
        if self.which == Fields::Message {
            // A message given as a string is written bare, not quoted.
            self.write(field, &format_args!("{value}"));
        } else {
            self.write(field, &value);
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        // `format_args!` messages arrive here; their Debug is their text.
        self.write(field, value);
    }
}
