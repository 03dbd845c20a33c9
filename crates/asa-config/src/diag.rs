//! Diagnostics: what failed, where, what was expected and how to fix it.
//!
//! Text output goes through codespan-reporting, which prints `file:line:column`, the
//! offending line and a marker under the token.

use codespan_reporting::diagnostic::{Diagnostic as CsDiagnostic, Label, Severity as CsSeverity};
use codespan_reporting::files::SimpleFile;
use codespan_reporting::term;
use serde::Serialize;
use serde_json::json;

use crate::display::{DisplaySource, escape_controls};
use crate::span::{LineIndex, Span};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Note,
    Warning,
    Error,
}

/// One finding about the configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    /// Stable identifier, such as `undefined-object`.
    pub code: &'static str,
    pub message: String,
    /// Primary location and its label (what was expected there).
    pub span: Option<Span>,
    pub label: String,
    /// Related locations, such as where a name is used.
    pub secondary: Vec<(Span, String)>,
    pub notes: Vec<String>,
    /// The suggested fix.
    pub help: Option<String>,
}

impl Diagnostic {
    pub fn new(severity: Severity, code: &'static str, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity,
            code,
            message: message.into(),
            span: None,
            label: String::new(),
            secondary: Vec::new(),
            notes: Vec::new(),
            help: None,
        }
    }

    pub fn error(code: &'static str, message: impl Into<String>) -> Diagnostic {
        Diagnostic::new(Severity::Error, code, message)
    }

    pub fn warning(code: &'static str, message: impl Into<String>) -> Diagnostic {
        Diagnostic::new(Severity::Warning, code, message)
    }

    pub fn note(code: &'static str, message: impl Into<String>) -> Diagnostic {
        Diagnostic::new(Severity::Note, code, message)
    }

    pub fn at(mut self, span: Span, label: impl Into<String>) -> Diagnostic {
        self.span = Some(span);
        self.label = label.into();
        self
    }

    pub fn also(mut self, span: Span, label: impl Into<String>) -> Diagnostic {
        self.secondary.push((span, label.into()));
        self
    }

    pub fn with_note(mut self, note: impl Into<String>) -> Diagnostic {
        self.notes.push(note.into());
        self
    }

    pub fn with_help(mut self, help: impl Into<String>) -> Diagnostic {
        self.help = Some(help.into());
        self
    }
}

/// Renders diagnostics against one source file.
pub(crate) struct Renderer<'a> {
    pub name: &'a str,
    pub source: &'a str,
    pub lines: &'a LineIndex,
}

impl Renderer<'_> {
    fn to_codespan(&self, d: &Diagnostic, shown: &DisplaySource) -> CsDiagnostic<()> {
        let severity = match d.severity {
            Severity::Note => CsSeverity::Note,
            Severity::Warning => CsSeverity::Warning,
            Severity::Error => CsSeverity::Error,
        };
        let mut labels = Vec::new();
        if let Some(span) = d.span {
            labels.push(Label::primary((), shown.map_range(span.range())).with_message(escape_controls(&d.label)));
        }
        for (span, msg) in &d.secondary {
            labels.push(Label::secondary((), shown.map_range(span.range())).with_message(escape_controls(msg)));
        }
        let mut notes: Vec<String> = d.notes.iter().map(|n| escape_controls(n).into_owned()).collect();
        if let Some(help) = &d.help {
            notes.push(format!("help: {}", escape_controls(help)));
        }
        CsDiagnostic::new(severity).with_code(d.code).with_message(escape_controls(&d.message)).with_labels(labels).with_notes(notes)
    }

    /// Renders diagnostics as text. Source snippets come from [`DisplaySource`], so they
    /// never show a secret or a raw control character.
    pub fn render(&self, diags: &[Diagnostic], color: bool) -> String {
        let shown = DisplaySource::new(self.source);
        let name = escape_controls(self.name);
        let file = SimpleFile::new(name.as_ref(), shown.text.as_str());
        let config = term::Config::default();
        let mut out = String::new();
        for d in diags {
            let cs = self.to_codespan(d, &shown);
            if color {
                let mut buf = term::termcolor::Buffer::ansi();
                if term::emit_to_write_style(&mut buf, &config, &file, &cs).is_ok() {
                    out.push_str(&String::from_utf8_lossy(buf.as_slice()));
                }
            } else if let Ok(s) = term::emit_into_string(&config, &file, &cs) {
                out.push_str(&s);
            }
        }
        out
    }

    pub fn to_json(&self, d: &Diagnostic) -> serde_json::Value {
        let (line, column, end_line, end_column) = match d.span {
            Some(s) => {
                let (l, c) = self.lines.line_col(self.source, s.start);
                let (el, ec) = self.lines.line_col(self.source, s.end);
                (Some(l), Some(c), Some(el), Some(ec))
            }
            None => (None, None, None, None),
        };
        let related: Vec<_> = d
            .secondary
            .iter()
            .map(|(s, msg)| {
                let (l, c) = self.lines.line_col(self.source, s.start);
                json!({ "line": l, "column": c, "label": msg })
            })
            .collect();
        json!({
            "severity": d.severity,
            "code": d.code,
            "message": d.message,
            "file": self.name,
            "line": line,
            "column": column,
            "end_line": end_line,
            "end_column": end_column,
            "label": d.label,
            "related": related,
            "notes": d.notes,
            "help": d.help,
        })
    }
}
