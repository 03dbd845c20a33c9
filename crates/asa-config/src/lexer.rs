//! Splits ASA CLI text into lines of whitespace-separated tokens.
//!
//! The ASA CLI has no quoting: every token is a run of non-blank characters, and a
//! leading blank marks a sub-command of the preceding mode command.

use crate::span::Span;

#[derive(Clone, Copy, Debug)]
pub struct Token {
    pub span: Span,
}

/// One non-empty line of configuration text.
#[derive(Clone, Debug)]
pub struct Line {
    /// Span of the text from the first token to the end of the line, without the terminator.
    pub span: Span,
    /// True when the line starts with a blank (a sub-command in `show running-config`).
    pub indented: bool,
    pub tokens: Vec<Token>,
}

impl Line {
    pub fn text<'a>(&self, source: &'a str) -> &'a str {
        source.get(self.span.range()).unwrap_or("")
    }

    pub fn tok<'a>(&self, source: &'a str, i: usize) -> Option<&'a str> {
        self.tokens.get(i).and_then(|t| source.get(t.span.range()))
    }
}

/// Splits `source` into lines. Blank lines are dropped; comment lines are kept so that the
/// parser can skip them explicitly.
pub fn lines(source: &str) -> Vec<Line> {
    let mut out = Vec::with_capacity(source.len() / 24 + 1);
    let mut offset = 0usize;
    let bytes = source.as_bytes();
    for raw in source.split('\n') {
        let start = offset;
        offset += raw.len() + 1;
        let mut end = start + raw.len();
        if end > start && bytes[end - 1] == b'\r' {
            end -= 1;
        }
        let mut tokens = Vec::new();
        let mut i = start;
        while i < end {
            while i < end && bytes[i].is_ascii_whitespace() {
                i += 1;
            }
            let t = i;
            while i < end && !bytes[i].is_ascii_whitespace() {
                i += 1;
            }
            if i > t {
                tokens.push(Token { span: Span::new(t, i) });
            }
        }
        if tokens.is_empty() {
            continue;
        }
        let indented = start < end && bytes[start].is_ascii_whitespace();
        // The span starts at the first token so that diagnostics mark the command, not
        // its indentation.
        let first = tokens[0].span.start as usize;
        out.push(Line { span: Span::new(first, end), indented, tokens });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_indent_and_tokens() {
        let src = "object network A\r\n host 198.51.100.1\n\n!\n";
        let ls = lines(src);
        assert_eq!(ls.len(), 3);
        assert!(!ls[0].indented);
        assert!(ls[1].indented);
        assert_eq!(ls[1].tok(src, 1), Some("198.51.100.1"));
        assert_eq!(ls[0].text(src), "object network A");
    }
}
