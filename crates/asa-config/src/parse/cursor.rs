//! A cursor over the tokens of one line, with the value parsers every command uses.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};

use crate::diag::Diagnostic;
use crate::keywords;
use crate::lexer::Line;
use crate::span::{Span, Spanned};

pub type PResult<T> = Result<T, Diagnostic>;

pub struct Cursor<'a> {
    pub src: &'a str,
    pub line: &'a Line,
    pub pos: usize,
}

impl<'a> Cursor<'a> {
    pub fn new(src: &'a str, line: &'a Line) -> Cursor<'a> {
        Cursor { src, line, pos: 0 }
    }

    pub fn peek(&self) -> Option<&'a str> {
        self.line.tok(self.src, self.pos)
    }

    pub fn peek_at(&self, ahead: usize) -> Option<&'a str> {
        self.line.tok(self.src, self.pos + ahead)
    }

    pub fn peek_is(&self, kw: &str) -> bool {
        self.peek().is_some_and(|t| t.eq_ignore_ascii_case(kw))
    }

    pub fn at_end(&self) -> bool {
        self.pos >= self.line.tokens.len()
    }

    /// Span of the current token, or an empty span at the end of the line.
    pub fn here(&self) -> Span {
        match self.line.tokens.get(self.pos) {
            Some(t) => t.span,
            None => Span { start: self.line.span.end, end: self.line.span.end },
        }
    }

    pub fn next(&mut self) -> Option<(&'a str, Span)> {
        let t = self.line.tokens.get(self.pos)?;
        self.pos += 1;
        Some((self.src.get(t.span.range()).unwrap_or(""), t.span))
    }

    pub fn eat(&mut self, kw: &str) -> bool {
        if self.peek_is(kw) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    /// Error at the current token: `expected ...`, or `missing ...` at the end of the line.
    pub fn expected(&self, what: &str) -> Diagnostic {
        match self.peek() {
            Some(tok) => Diagnostic::error("syntax", format!("expected {what}, found `{tok}`"))
                .at(self.here(), format!("expected {what}")),
            None => Diagnostic::error("syntax", format!("incomplete command: missing {what}"))
                .at(self.here(), format!("{what} expected here")),
        }
    }

    /// Builds the error for a token that matches none of `options` in a command family
    /// that rampart models. Such a token is a typo, not a command to keep unmodelled.
    pub fn unknown_keyword(&self, context: &str, options: &[&str]) -> Diagnostic {
        let list = options.iter().map(|o| format!("`{o}`")).collect::<Vec<_>>().join(", ");
        let Some(tok) = self.peek() else {
            return self.expected(&format!("one of {list}"));
        };
        let d = Diagnostic::error("syntax", format!("unknown keyword `{tok}` in `{context}`")).at(self.here(), format!("expected one of {list}"));
        match crate::resolve::suggest(tok, options.iter().copied()) {
            Some(near) => d.with_help(format!("did you mean `{near}`?")),
            None => d,
        }
    }

    pub fn word(&mut self, what: &str) -> PResult<Spanned<String>> {
        match self.next() {
            Some((t, s)) => Ok(Spanned::new(t.to_string(), s)),
            None => Err(self.expected(what)),
        }
    }

    /// Consumes one of `options` (case-insensitive) and returns it in lower case.
    pub fn keyword(&mut self, options: &[&str]) -> PResult<(String, Span)> {
        let what = format!("one of {}", options.iter().map(|o| format!("`{o}`")).collect::<Vec<_>>().join(", "));
        match self.peek() {
            Some(t) if options.iter().any(|o| o.eq_ignore_ascii_case(t)) => {
                let s = self.here();
                self.pos += 1;
                Ok((t.to_ascii_lowercase(), s))
            }
            _ => Err(self.expected(&what)),
        }
    }

    pub fn expect(&mut self, kw: &str) -> PResult<Span> {
        self.keyword(&[kw]).map(|(_, s)| s)
    }

    pub fn number<T: std::str::FromStr + PartialOrd + std::fmt::Display + Copy>(
        &mut self,
        what: &str,
        min: T,
        max: T,
    ) -> PResult<Spanned<T>> {
        let span = self.here();
        let Some((tok, _)) = self.next() else {
            return Err(self.expected(what));
        };
        match tok.parse::<T>() {
            Ok(v) if v >= min && v <= max => Ok(Spanned::new(v, span)),
            _ => Err(Diagnostic::error("invalid-value", format!("invalid {what} `{tok}`"))
                .at(span, format!("expected a number from {min} to {max}"))),
        }
    }

    /// Consumes and returns the rest of the line as written, from the current token.
    pub fn rest(&mut self) -> Option<Spanned<String>> {
        let first = self.line.tokens.get(self.pos)?;
        let span = Span { start: first.span.start, end: self.line.span.end };
        self.pos = self.line.tokens.len();
        Some(Spanned::new(self.src.get(span.range()).unwrap_or("").trim_end().to_string(), span))
    }

    pub fn end(&self) -> PResult<()> {
        match self.peek() {
            None => Ok(()),
            Some(tok) => Err(Diagnostic::error("syntax", format!("unexpected `{tok}` at the end of the command"))
                .at(self.here(), "not expected here")
                .with_help("remove the extra words or check the command syntax")),
        }
    }

    /// Parses an IPv4 or IPv6 address, or a name defined with `name`.
    pub fn ip(&mut self, what: &str, names: &HashMap<String, IpAddr>) -> PResult<Spanned<IpAddr>> {
        let span = self.here();
        let Some((tok, _)) = self.next() else {
            return Err(self.expected(what));
        };
        if let Ok(a) = tok.parse::<IpAddr>() {
            return Ok(Spanned::new(a, span));
        }
        if let Some(a) = names.get(tok) {
            return Ok(Spanned::new(*a, span));
        }
        Err(invalid_address(tok, span, what))
    }

    pub fn ipv4(&mut self, what: &str, names: &HashMap<String, IpAddr>) -> PResult<Spanned<Ipv4Addr>> {
        let a = self.ip(what, names)?;
        match a.value {
            IpAddr::V4(v4) => Ok(Spanned::new(v4, a.span)),
            IpAddr::V6(_) => Err(Diagnostic::error("invalid-address", format!("{what} must be an IPv4 address"))
                .at(a.span, "IPv6 address not allowed here")),
        }
    }

    /// A dotted netmask; returns the prefix length.
    pub fn mask(&mut self) -> PResult<Spanned<u8>> {
        let span = self.here();
        let Some((tok, _)) = self.next() else {
            return Err(self.expected("a netmask such as 255.255.255.0"));
        };
        let Ok(m) = tok.parse::<Ipv4Addr>() else {
            return Err(Diagnostic::error("invalid-address", format!("invalid netmask `{tok}`"))
                .at(span, "expected a dotted netmask such as 255.255.255.0"));
        };
        match keywords::mask_prefix(m) {
            Some(p) => Ok(Spanned::new(p, span)),
            None => Err(Diagnostic::error("non-contiguous-mask", format!("netmask `{tok}` is not contiguous"))
                .at(span, "the one bits of a netmask must be contiguous from the left")
                .with_help(format!("use a contiguous mask; the nearest is {}", nearest_mask(m)))),
        }
    }

    /// `A M` (IPv4 address and mask) or `A/len` (IPv6 prefix).
    pub fn subnet(&mut self, names: &HashMap<String, IpAddr>) -> PResult<(IpAddr, u8, Span)> {
        let start = self.here();
        if let Some(tok) = self.peek()
            && let Some((a, len)) = tok.split_once('/')
        {
            let span = self.here();
            self.pos += 1;
            let addr = a.parse::<IpAddr>().map_err(|_| invalid_address(tok, span, "a network prefix"))?;
            let max = if addr.is_ipv4() { 32 } else { 128 };
            return match len.parse::<u8>() {
                Ok(l) if l <= max => Ok((addr, l, span)),
                _ => Err(Diagnostic::error("invalid-value", format!("invalid prefix length in `{tok}`"))
                    .at(span, format!("expected a prefix length from 0 to {max}"))),
            };
        }
        let addr = self.ip("a network address", names)?;
        let IpAddr::V4(net) = addr.value else {
            return Err(Diagnostic::error("invalid-address", "an IPv6 network needs a prefix length")
                .at(addr.span, "write it as ADDRESS/LENGTH"));
        };
        let prefix = self.mask()?;
        let host_bits = u32::from(net) & !u32::from(keywords::prefix_mask(prefix.value));
        if host_bits != 0 {
            return Err(Diagnostic::error("invalid-address", format!("address {net} has host bits set for its mask"))
                .at(addr.span.to(prefix.span), "network address and mask do not match")
                .with_help(format!(
                    "use the network address {}",
                    Ipv4Addr::from(u32::from(net) & u32::from(keywords::prefix_mask(prefix.value)))
                )));
        }
        Ok((addr.value, prefix.value, start.to(prefix.span)))
    }
}

pub fn invalid_address(tok: &str, span: Span, what: &str) -> Diagnostic {
    Diagnostic::error("invalid-address", format!("invalid address `{tok}`"))
        .at(span, format!("expected {what}"))
        .with_help("write a dotted IPv4 address such as 198.51.100.1, or a name defined with `name`")
}

fn nearest_mask(m: Ipv4Addr) -> Ipv4Addr {
    keywords::prefix_mask(u32::from(m).leading_ones() as u8)
}
