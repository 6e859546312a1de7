//! Small shared shapes: embedded references and lenient decoders.

use serde::{Deserialize, Deserializer, Serialize};

/// A record with a numeric id.
pub trait Record {
    /// The record's id.
    fn id(&self) -> i64;
}

/// An embedded association as Coupa returns it: an id and, usually, a name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[non_exhaustive]
pub struct Reference {
    /// The referenced record's id.
    pub id: i64,
    /// Its name, when projected.
    #[serde(default)]
    pub name: Option<String>,
}

impl Reference {
    /// A reference to `id` with an optional name.
    pub fn new(id: i64, name: Option<String>) -> Self {
        Self { id, name }
    }
}

/// A reference by id, as written in update bodies: `{"id": 5}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct IdRef {
    /// The id.
    pub id: i64,
}

/// A string that Coupa may also send as a number (employee numbers).
pub(crate) fn string_or_number<'de, D>(deserializer: D) -> Result<Option<String>, D::Error>
where
    D: Deserializer<'de>,
{
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Either {
        S(String),
        I(i64),
        F(f64),
    }
    Ok(match Option::<Either>::deserialize(deserializer)? {
        None => None,
        Some(Either::S(s)) => Some(s),
        Some(Either::I(i)) => Some(i.to_string()),
        Some(Either::F(f)) => Some(f.to_string()),
    })
}
