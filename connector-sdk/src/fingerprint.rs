//! [`Fingerprint`]: what identifies the output of a sync, as named parts with one encoding.

use std::fmt;

/// What determines the output of a sync: the connector, its tenant (a URL, a client id, a
/// file) and the settings that change what is synced, as named parts in a fixed order. Stores
/// and `.c1z` files keep its [encoding](Self::encode); a run is resumed, and a file or store
/// written into, only by a sync whose fingerprint [matches](Self::matches) theirs.
///
/// Built from at least one part, so never empty. Never put a secret in one: it is stored in
/// plain text and shown in errors.
///
/// ```
/// use connector_sdk::Fingerprint;
///
/// let fingerprint = Fingerprint::new("tenant", "https://acme.example")
///     .with("client_id", "reader")
///     .with("archived", false);
/// assert_eq!(
///     fingerprint.encode(),
///     "tenant=https://acme.example|client_id=reader|archived=false"
/// );
/// assert_eq!(Fingerprint::decode(&fingerprint.encode()).unwrap(), fingerprint);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Fingerprint {
    /// Name (`None` in a string written before fingerprints had names) and value.
    parts: Vec<(Option<String>, String)>,
}

/// A stored fingerprint that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FingerprintError {
    /// The text is empty (runs from before fingerprints were kept have one).
    #[error("the fingerprint is empty")]
    Empty,
}

impl Fingerprint {
    /// A fingerprint of one part.
    pub fn new(name: &str, value: impl fmt::Display) -> Self {
        Self {
            parts: vec![(Some(name.to_owned()), value.to_string())],
        }
    }

    /// Adds a part after the others.
    #[must_use]
    pub fn with(mut self, name: &str, value: impl fmt::Display) -> Self {
        self.parts.push((Some(name.to_owned()), value.to_string()));
        self
    }

    /// `self`'s parts, then `other`'s.
    #[must_use]
    pub fn then(mut self, other: Fingerprint) -> Self {
        self.parts.extend(other.parts);
        self
    }

    /// The value of the first part named `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.parts
            .iter()
            .find(|(n, _)| n.as_deref() == Some(name))
            .map(|(_, v)| v.as_str())
    }

    /// The fingerprint without its parts named `name` (`None` when nothing else is left).
    pub fn without(&self, name: &str) -> Option<Self> {
        let parts: Vec<_> = self
            .parts
            .iter()
            .filter(|(n, _)| n.as_deref() != Some(name))
            .cloned()
            .collect();
        (!parts.is_empty()).then_some(Self { parts })
    }

    /// The stable text form: `name=value` parts joined by `|`, with `%`, `|` and `=` in names
    /// and values written `%25`, `%7C` and `%3D`.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        for (i, (name, value)) in self.parts.iter().enumerate() {
            if i > 0 {
                out.push('|');
            }
            if let Some(name) = name {
                escape(name, &mut out);
                out.push('=');
            }
            escape(value, &mut out);
        }
        out
    }

    /// Reads an encoded fingerprint, or one written before fingerprints had names (the
    /// connector id and the connector's own text, `|`-separated): its parts without a `=` have
    /// no name, and [`matches`](Self::matches) compares them by position. An empty text is
    /// refused.
    pub fn decode(text: &str) -> Result<Self, FingerprintError> {
        if text.is_empty() {
            return Err(FingerprintError::Empty);
        }
        let parts = text
            .split('|')
            .map(|part| match part.split_once('=') {
                Some((name, value)) => (Some(unescape(name)), unescape(value)),
                None => (None, unescape(part)),
            })
            .collect();
        Ok(Self { parts })
    }

    /// Whether two fingerprints are of the same output: as many parts, each with the same value
    /// and, where both have one, the same name. A string from before names were kept thus
    /// matches the fingerprint of the same settings now.
    pub fn matches(&self, other: &Fingerprint) -> bool {
        self.parts.len() == other.parts.len()
            && self
                .parts
                .iter()
                .zip(&other.parts)
                .all(|((a_name, a), (b_name, b))| {
                    a == b
                        && match (a_name, b_name) {
                            (Some(x), Some(y)) => x == y,
                            _ => true,
                        }
                })
    }

    /// Whether the stored text `stored` decodes to a fingerprint that [matches](Self::matches)
    /// this one.
    pub fn matches_stored(&self, stored: &str) -> bool {
        Self::decode(stored).is_ok_and(|f| f.matches(self))
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.encode())
    }
}

fn escape(text: &str, out: &mut String) {
    for c in text.chars() {
        match c {
            '%' => out.push_str("%25"),
            '|' => out.push_str("%7C"),
            '=' => out.push_str("%3D"),
            c => out.push(c),
        }
    }
}

/// Undoes [`escape`]; any other `%` is kept as it is (strings from before the encoding).
fn unescape(text: &str) -> String {
    text.replace("%7C", "|")
        .replace("%3D", "=")
        .replace("%25", "%")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_encoding_escapes_separators_and_reads_back() {
        let fingerprint = Fingerprint::new("connector", "c")
            .with("file", "/a|b=c%d")
            .with("n", 3);
        assert_eq!(fingerprint.encode(), "connector=c|file=/a%7Cb%3Dc%25d|n=3");
        let read = Fingerprint::decode(&fingerprint.encode()).unwrap();
        assert_eq!(read, fingerprint);
        assert_eq!(read.get("file"), Some("/a|b=c%d"));
        // Text that looks like an escape survives too.
        for value in ["%7C", "%3D", "%25", "%%7C|=", "100%"] {
            let fingerprint = Fingerprint::new("v", value);
            let read = Fingerprint::decode(&fingerprint.encode()).unwrap();
            assert_eq!(read.get("v"), Some(value), "{}", fingerprint.encode());
        }
    }

    #[test]
    fn an_empty_text_is_refused() {
        assert_eq!(Fingerprint::decode(""), Err(FingerprintError::Empty));
        assert!(!Fingerprint::new("a", "b").matches_stored(""));
    }

    #[test]
    fn a_string_from_before_names_matches_the_same_settings() {
        let now = Fingerprint::new("connector", "coupa")
            .with("tenant", "https://acme.example")
            .with("client_id", "reader")
            .with("account_groups", true);
        assert!(now.matches_stored("coupa|https://acme.example|reader|account_groups=true"));
        assert!(!now.matches_stored("coupa|https://other.example|reader|account_groups=true"));
        assert!(!now.matches_stored("coupa|https://acme.example|reader|account_groups=false"));
        assert!(!now.matches_stored("coupa|https://acme.example|reader"));
        // A name both sides have must agree.
        assert!(!now.matches_stored("coupa|https://acme.example|reader|other=true"));
    }

    #[test]
    fn a_part_can_be_left_out() {
        let selected = Fingerprint::new("connector", "c").with("resource_types", "user");
        assert_eq!(
            selected.without("resource_types"),
            Some(Fingerprint::new("connector", "c"))
        );
        assert_eq!(Fingerprint::new("a", "b").without("a"), None);
        // The selection suffix of earlier versions is a named part too.
        let old = Fingerprint::decode("c|resource_types=user").unwrap();
        assert!(
            old.without("resource_types")
                .unwrap()
                .matches(&Fingerprint::new("connector", "c"))
        );
    }
}
