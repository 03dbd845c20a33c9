//! The configuration text as diagnostics may print it: secrets masked and control
//! characters escaped, with a map from source offsets to offsets in that text.
//!
//! Diagnostics quote whole source lines, and a line with a typo may still carry a
//! pre-shared key, so every snippet goes through [`DisplaySource`] first. Escaping also
//! keeps escape sequences in a hostile file from reaching the terminal.

/// Keywords whose following word is a secret. `show running-config` prints `*****`
/// in place of that word.
pub(crate) const SECRET_KEYWORDS: &[&str] = &["password", "passwd", "pre-shared-key", "community", "key", "secret", "key-string"];

/// Text printed in place of a secret.
pub(crate) const MASK: &str = "*****";

/// True for a keyword whose following word is a secret.
pub(crate) fn is_secret_keyword(word: &str) -> bool {
    SECRET_KEYWORDS.iter().any(|k| k.eq_ignore_ascii_case(word))
}

/// One replaced byte range: `orig` in the source became `new` in the display text.
#[derive(Clone, Debug)]
struct Edit {
    orig: std::ops::Range<usize>,
    new: std::ops::Range<usize>,
}

/// Source text with secrets masked and control characters escaped.
#[derive(Clone, Debug)]
pub(crate) struct DisplaySource {
    pub text: String,
    edits: Vec<Edit>,
}

impl DisplaySource {
    pub fn new(source: &str) -> DisplaySource {
        let mut replacements: Vec<(std::ops::Range<usize>, String)> = Vec::new();
        let mut line_start = 0;
        for line in source.split('\n') {
            secret_ranges(line, line_start, &mut replacements);
            line_start += line.len() + 1;
        }
        // Secret ranges are in source order, so a binary search finds whether a
        // control character lies inside one (and is masked already).
        let secrets = replacements.len();
        for (i, ch) in source.char_indices() {
            if !needs_escape(ch) {
                continue;
            }
            let before = replacements[..secrets].partition_point(|(r, _)| r.start <= i);
            let masked = before > 0 && replacements[before - 1].0.contains(&i);
            if !masked {
                replacements.push((i..i + ch.len_utf8(), escape_char(ch)));
            }
        }
        replacements.sort_by_key(|(r, _)| r.start);

        let mut text = String::with_capacity(source.len());
        let mut edits = Vec::with_capacity(replacements.len());
        let mut copied = 0;
        for (range, with) in replacements {
            if range.start < copied {
                continue;
            }
            text.push_str(&source[copied..range.start]);
            let start = text.len();
            text.push_str(&with);
            edits.push(Edit { orig: range.clone(), new: start..text.len() });
            copied = range.end;
        }
        text.push_str(&source[copied..]);
        DisplaySource { text, edits }
    }

    /// Maps a source byte offset to the display text. An offset inside a replaced range
    /// maps to the start of its replacement, or to its end when `is_end`.
    pub fn map(&self, offset: usize, is_end: bool) -> usize {
        let i = self.edits.partition_point(|e| e.orig.start <= offset);
        let Some(e) = i.checked_sub(1).and_then(|i| self.edits.get(i)) else {
            return offset;
        };
        if offset == e.orig.start {
            e.new.start
        } else if offset < e.orig.end {
            if is_end { e.new.end } else { e.new.start }
        } else {
            offset - e.orig.end + e.new.end
        }
    }

    pub fn map_range(&self, range: std::ops::Range<usize>) -> std::ops::Range<usize> {
        let start = self.map(range.start, false);
        let end = self.map(range.end, true).max(start);
        start..end
    }
}

/// Adds the range of every secret on one line. A pre-shared key is masked to the end of
/// the line, so that a key typed with spaces or a `hex` prefix stays hidden too; other
/// secrets are one word. An encryption type digit (`password 8 ...`) stays visible.
fn secret_ranges(line: &str, line_start: usize, out: &mut Vec<(std::ops::Range<usize>, String)>) {
    let words = word_ranges(line);
    let mut i = 0;
    while i < words.len() {
        let word = &line[words[i].clone()];
        i += 1;
        if !is_secret_keyword(word) || i >= words.len() {
            continue;
        }
        let type_digit = line[words[i].clone()].len() == 1 && line[words[i].clone()].bytes().all(|b| b.is_ascii_digit());
        if type_digit && i + 1 < words.len() {
            i += 1;
        }
        let end = if word.eq_ignore_ascii_case("pre-shared-key") { line.trim_end().len() } else { words[i].end };
        let value = &line[words[i].start..end];
        if value.starts_with('<') && value.ends_with('>') {
            // A template placeholder such as `<PSK>` is no secret, and its error points at it.
            i = words.partition_point(|w| w.start < end);
            continue;
        }
        out.push((line_start + words[i].start..line_start + end, MASK.to_string()));
        i = words.partition_point(|w| w.start < end);
    }
}

/// Byte ranges of the whitespace-separated words of a line.
fn word_ranges(line: &str) -> Vec<std::ops::Range<usize>> {
    let bytes = line.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        while i < bytes.len() && bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        let start = i;
        while i < bytes.len() && !bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        if i > start {
            out.push(start..i);
        }
    }
    out
}

/// True for characters that a terminal may interpret: C0 and C1 controls other than
/// tab and line feed, and the Unicode bidirectional overrides that reorder text.
fn needs_escape(ch: char) -> bool {
    (ch.is_control() && ch != '\t' && ch != '\n') || matches!(ch, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{feff}')
}

fn escape_char(ch: char) -> String {
    let code = u32::from(ch);
    if code <= 0xff { format!("\\x{code:02x}") } else { format!("\\u{{{code:04x}}}") }
}

/// Escapes control characters in a message, label or help text.
pub(crate) fn escape_controls(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.chars().any(needs_escape) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for ch in text.chars() {
        if needs_escape(ch) {
            out.push_str(&escape_char(ch));
        } else {
            out.push(ch);
        }
    }
    std::borrow::Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_masks_psk_to_line_end() {
        let d = DisplaySource::new(" ikev2 remote-authentcation pre-shared-key ex ample\nhostname x\n");
        assert_eq!(d.text, " ikev2 remote-authentcation pre-shared-key *****\nhostname x\n");
    }

    #[test]
    fn display_keeps_type_digit() {
        let d = DisplaySource::new(" ikev2 local-authentication pre-shared-key 8 EncryptedBlob\n");
        assert_eq!(d.text, " ikev2 local-authentication pre-shared-key 8 *****\n");
    }

    #[test]
    fn display_masks_one_word_password() {
        let d = DisplaySource::new("enable password SecretWord level 15\n");
        assert_eq!(d.text, "enable password ***** level 15\n");
    }

    #[test]
    fn display_escapes_controls() {
        let d = DisplaySource::new("foo \x1b[2J bar\n");
        assert_eq!(d.text, "foo \\x1b[2J bar\n");
    }

    #[test]
    fn display_control_inside_secret_masked() {
        let d = DisplaySource::new("x pre-shared-key ab\x1bcd\n");
        assert_eq!(d.text, "x pre-shared-key *****\n");
    }

    #[test]
    fn display_maps_offsets_after_edit() {
        let src = "a \x1b b\n";
        let d = DisplaySource::new(src);
        let b = src.find('b').unwrap_or(0);
        assert_eq!(&d.text[d.map_range(b..b + 1)], "b");
    }

    #[test]
    fn display_maps_span_inside_secret() {
        let src = "x pre-shared-key abcdef\n";
        let d = DisplaySource::new(src);
        let key = src.find("abc").unwrap_or(0);
        assert_eq!(&d.text[d.map_range(key + 1..key + 3)], MASK);
    }
}
