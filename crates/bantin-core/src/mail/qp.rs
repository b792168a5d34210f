//! Quoted-printable (RFC 2045 §6.7) written in pieces, for digests that
//! are encoded once per shape and completed per subscriber
//! (`mail::shape`).
//!
//! The `quoted_printable` crate (lettre's) encodes a whole text at once;
//! a digest's text is the same for every subscriber of a shape except for
//! a few values (address, links), so here the shared pieces are encoded
//! once and the values per message. An encoder's state is its column: a
//! piece encoded from column 0 does not depend on what came before it, so
//! after each value a soft line break (`=` CRLF, invisible once decoded)
//! brings the column back to 0.
//!
//! Output rules: bytes 33–126 but `=` stay as they are; space and tab too,
//! except before a line break or at the end of a piece (then `=20`/`=09`);
//! `\n` and `\r\n` become CRLF; anything else is `=XX`; no line is longer
//! than 76 characters and no `=XX` is split.

/// Longest encoded line, without its CRLF (RFC 2045: 76, the soft break's
/// `=` included).
const MAX_LINE: usize = 76;

/// Quoted-printable output and the column it has reached.
#[derive(Debug, Default, Clone)]
pub struct Encoder {
    out: Vec<u8>,
    col: usize,
}

const HEX: &[u8; 16] = b"0123456789ABCDEF";

impl Encoder {
    pub fn with_capacity(n: usize) -> Encoder {
        Encoder { out: Vec::with_capacity(n), col: 0 }
    }

    /// The column the next byte would go to.
    pub fn column(&self) -> usize {
        self.col
    }

    /// Encodes `text` from the current column.
    pub fn text(&mut self, text: &str) {
        let bytes = text.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            let b = bytes[i];
            if b == b'\n' || (b == b'\r' && bytes.get(i + 1) == Some(&b'\n')) {
                self.out.extend_from_slice(b"\r\n");
                self.col = 0;
                i += if b == b'\r' { 2 } else { 1 };
                continue;
            }
            let literal = match b {
                b' ' | b'\t' => !matches!(bytes.get(i + 1), None | Some(b'\n') | Some(b'\r')),
                b'=' => false,
                33..=126 => true,
                _ => false,
            };
            let width = if literal { 1 } else { 3 };
            // Room for this and, should another follow, the soft break's `=`.
            if self.col + width > MAX_LINE - 1 {
                self.soft_break();
            }
            if literal {
                self.out.push(b);
            } else {
                self.out.extend_from_slice(&[b'=', HEX[usize::from(b >> 4)], HEX[usize::from(b & 15)]]);
            }
            self.col += width;
            i += 1;
        }
    }

    /// A soft line break unless at the start of a line: what follows is
    /// encoded from column 0.
    pub fn soft_break(&mut self) {
        if self.col > 0 {
            self.out.extend_from_slice(b"=\r\n");
            self.col = 0;
        }
    }

    /// Appends output encoded elsewhere from column 0 that ends at `col`.
    pub fn append_encoded(&mut self, encoded: &[u8], col: usize) {
        self.out.extend_from_slice(encoded);
        self.col = col;
    }

    pub fn into_bytes(self) -> Vec<u8> {
        self.out
    }
}

/// `text` whole, from column 0: a part that is not made of pieces.
pub fn encode(text: &str) -> Vec<u8> {
    let mut e = Encoder::with_capacity(text.len() + text.len() / 2);
    e.text(text);
    e.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn encode(pieces: &[&str]) -> Vec<u8> {
        let mut e = Encoder::default();
        for (i, p) in pieces.iter().enumerate() {
            // As `shape::Part::fill`: a soft break before each piece that
            // is encoded on its own, never at the end.
            if i > 0 && !p.is_empty() {
                e.soft_break();
            }
            e.text(p);
        }
        e.into_bytes()
    }

    fn well_formed(encoded: &[u8]) {
        let text = std::str::from_utf8(encoded).expect("ASCII");
        for line in text.split("\r\n") {
            assert!(line.len() <= MAX_LINE, "line of {}: {line:?}", line.len());
            assert!(line.bytes().all(|b| b == b'\t' || (32..127).contains(&b)), "{line:?}");
            assert!(!line.ends_with(' ') && !line.ends_with('\t'), "trailing whitespace: {line:?}");
        }
        assert!(!text.replace("\r\n", "").contains(['\r', '\n']), "bare line breaks");
    }

    #[test]
    fn vietnamese_and_equals_signs_are_escaped_and_lines_wrapped() {
        let text = "Nghĩa Lộ: a=b \nend  \n";
        let out = encode(&[text]);
        assert_eq!(
            String::from_utf8(out.clone()).unwrap(),
            "Ngh=C4=A9a L=E1=BB=99: a=3Db=20\r\nend =20\r\n"
        );
        let long = "x".repeat(200);
        well_formed(&encode(&[&long]));
    }

    proptest! {
        /// Decoded by the crate lettre uses, pieces joined by soft breaks
        /// give the text back; every line keeps the RFC's limits.
        #[test]
        fn pieces_decode_to_the_whole_text(pieces in proptest::collection::vec("(\\PC|[ \t=\r\n.]){0,120}", 1..5)) {
            let refs: Vec<&str> = pieces.iter().map(String::as_str).collect();
            let encoded = encode(&refs);
            well_formed(&encoded);
            let decoded = quoted_printable::decode(&encoded, quoted_printable::ParseMode::Strict).expect("valid quoted-printable");
            // Line breaks are read within a piece (a value always stands
            // between two pieces, so none spans them).
            let expected: String = pieces.iter().map(|p| p.replace("\r\n", "\n").replace('\n', "\r\n")).collect();
            prop_assert_eq!(String::from_utf8(decoded).unwrap(), expected);
        }
    }
}
