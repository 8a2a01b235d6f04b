//! Errors: what went wrong, where (a byte span in the input), and a hint.
//!
//! Every stage reports a concrete [`Error`]; [`Error::render`] prints it the way the CLI
//! does, with line, column and a caret under the culprit (via `codespan-reporting`).

use codespan_reporting::diagnostic::{Diagnostic, Label};
use codespan_reporting::files::SimpleFile;
use codespan_reporting::term::{self, termcolor::NoColor};
use std::fmt;

/// A byte range in the input text.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
pub struct Span {
    /// First byte.
    pub start: usize,
    /// One past the last byte.
    pub end: usize,
}

impl Span {
    /// A span from `start` to `end`.
    pub fn new(start: usize, end: usize) -> Span {
        Span { start, end }
    }

    /// The smallest span covering both.
    pub fn join(self, other: Span) -> Span {
        Span::new(self.start.min(other.start), self.end.max(other.end))
    }
}

/// The kind of an error; its code is stable and documented in docs/errors.md.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorCode {
    /// The text does not follow the grammar.
    Syntax,
    /// A limit (input size, nesting, tensor order, terms) was exceeded.
    Limit,
    /// A name, function or declaration kind that is not known.
    Unknown,
    /// Shapes that do not fit together.
    Shape,
    /// A bracket term that is not well formed (widths, portions, occurrences).
    Bracket,
    /// A construct that is understood but not supported here.
    Unsupported,
    /// A value is needed that was not given, or a numeric failure (singular matrix).
    Eval,
    /// A command-line argument is wrong.
    Usage,
}

impl ErrorCode {
    /// The stable code printed in messages, e.g. `E-shape`.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::Syntax => "E-syntax",
            ErrorCode::Limit => "E-limit",
            ErrorCode::Unknown => "E-unknown",
            ErrorCode::Shape => "E-shape",
            ErrorCode::Bracket => "E-bracket",
            ErrorCode::Unsupported => "E-unsupported",
            ErrorCode::Eval => "E-eval",
            ErrorCode::Usage => "E-usage",
        }
    }
}

/// An error with a location in the input and a hint.
#[derive(Clone, Debug, PartialEq)]
pub struct Error {
    /// What kind of error.
    pub code: ErrorCode,
    /// What went wrong, in one sentence.
    pub message: String,
    /// Where, if the error is about the input text.
    pub span: Option<Span>,
    /// How to fix it.
    pub hint: Option<String>,
}

/// Results of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// An error at a span.
    pub fn new(code: ErrorCode, message: impl Into<String>, span: Span) -> Error {
        Error { code, message: message.into(), span: Some(span), hint: None }
    }

    /// An error that is not about a place in the input.
    pub fn bare(code: ErrorCode, message: impl Into<String>) -> Error {
        Error { code, message: message.into(), span: None, hint: None }
    }

    /// Adds a hint.
    pub fn hint(mut self, hint: impl Into<String>) -> Error {
        self.hint = Some(hint.into());
        self
    }

    /// Sets the span if none is set yet.
    pub fn or_span(mut self, span: Span) -> Error {
        if self.span.is_none() {
            self.span = Some(span);
        }
        self
    }

    /// 1-based line and column (in characters) of the span's start in `source`.
    pub fn line_col(&self, source: &str) -> Option<(usize, usize)> {
        let span = self.span?;
        Some(line_col(source, span.start))
    }

    /// Renders the error as the CLI prints it: message, `line:column`, the line with a
    /// caret under the culprit, and the hint.
    pub fn render(&self, source: &str) -> String {
        let shown = visible(source);
        let source = shown.as_str();
        if let Some(out) = self.render_long_line(source) {
            return out;
        }
        let file = SimpleFile::new("input", source);
        let mut diagnostic = Diagnostic::error().with_code(self.code.as_str()).with_message(&self.message);
        if let Some(span) = self.span {
            let start = clamp_to_char(source, span.start);
            let end = clamp_to_char(source, span.end.max(span.start)).max(start);
            diagnostic = diagnostic.with_labels(vec![Label::primary((), start..end)]);
        }
        if let Some(hint) = &self.hint {
            diagnostic = diagnostic.with_notes(vec![format!("hint: {hint}")]);
        }
        let mut out = NoColor::new(Vec::new());
        let config = term::Config::default();
        if term::emit(&mut out, &config, &file, &diagnostic).is_err() {
            return self.to_string();
        }
        String::from_utf8_lossy(&out.into_inner()).into_owned()
    }
}

/// True for a character that prints as nothing or moves what follows: a control
/// character (not a line break or tab), a direction or zero-width mark, or a combining
/// accent on its own.
pub fn invisible(c: char) -> bool {
    (c.is_control() && c != '\n' && c != '\t' && c != '\r')
        || matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2069}' | '\u{FEFF}')
        || matches!(c, '\u{0300}'..='\u{036F}')
}

/// `source` with each invisible character a visible one of the same length in bytes, so
/// that every span stays where it was and its caret shows (`?`, `¿`, `�`).
fn visible(source: &str) -> String {
    // A bar on a letter (`x̄`, `{X⁻¹}̄`: the notation's own accent) shows as written.
    let mut before = ' ';
    source
        .chars()
        .map(|c| {
            let accent_on = matches!(c, '\u{0304}' | '\u{0305}') && (before.is_alphanumeric() || before == '}');
            before = c;
            (c, accent_on)
        })
        .map(|(c, accent_on)| match (invisible(c) && !accent_on, c.len_utf8()) {
            (false, _) => c.to_string(),
            (true, 1) => "?".to_string(),
            (true, 2) => "¿".to_string(),
            (true, 3) => "\u{FFFD}".to_string(),
            (true, _) => "\u{FFFD}?".to_string(),
        })
        .collect()
}

/// Characters of a line shown on each side of the culprit where the line is longer than
/// [`LONG_LINE`].
const WINDOW: usize = 40;

/// Lines longer than this many characters are shown cut to the culprit's neighbourhood.
const LONG_LINE: usize = 160;

impl Error {
    /// [`Error::render`] for a culprit on a very long line (a generated input of 250 KB
    /// on one line): the same layout, with the line cut to [`WINDOW`] characters on each
    /// side of the culprit and `…` where it was cut. None for a short line.
    fn render_long_line(&self, source: &str) -> Option<String> {
        let span = self.span?;
        let start = clamp_to_char(source, span.start);
        let line_start = source[..start].rfind('\n').map_or(0, |k| k + 1);
        let line_end = source[start..].find('\n').map_or(source.len(), |k| start + k);
        let line: Vec<char> = source[line_start..line_end].chars().collect();
        if line.len() <= LONG_LINE {
            return None;
        }
        let (line_no, col) = line_col(source, start);
        let end = clamp_to_char(source, span.end.max(span.start)).clamp(start, line_end);
        let width = source[start..end].chars().count().clamp(1, WINDOW);
        let from = (col - 1).saturating_sub(WINDOW);
        let to = (col - 1 + width + WINDOW).min(line.len());
        let mut shown: String = line[from..to].iter().collect();
        let mut caret_at = col - 1 - from;
        if from > 0 {
            shown.insert(0, '…');
            caret_at += 1;
        }
        if to < line.len() {
            shown.push('…');
        }
        let gutter = " ".repeat(line_no.to_string().len());
        let mut out = format!("error[{}]: {}\n", self.code.as_str(), self.message);
        out += &format!("{gutter} ┌─ input:{line_no}:{col}\n{gutter} │\n{line_no} │ {shown}\n");
        out += &format!("{gutter} │ {}{}\n{gutter} │\n", " ".repeat(caret_at), "^".repeat(width));
        if let Some(hint) = &self.hint {
            out += &format!("{gutter} = hint: {hint}\n");
        }
        Some(out)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "error[{}]: {}", self.code.as_str(), self.message)?;
        if let Some(hint) = &self.hint {
            write!(f, " (hint: {hint})")?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {}

/// 1-based line and column (counted in characters) of byte offset `at`.
pub fn line_col(source: &str, at: usize) -> (usize, usize) {
    let at = clamp_to_char(source, at);
    let before = &source[..at];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

fn clamp_to_char(source: &str, mut at: usize) -> usize {
    at = at.min(source.len());
    while !source.is_char_boundary(at) {
        at -= 1;
    }
    at
}
