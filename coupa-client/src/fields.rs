//! The `fields=` projection: a JSON array of key names, nested associations as objects.

use serde_json::Value;

/// A projection such as `["id","login",{"roles":["id","name"]}]`. Sent as a real, encoded
/// query parameter, so only the named keys come back.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Fields(Vec<Field>);

#[derive(Debug, Clone, PartialEq, Eq)]
enum Field {
    Key(String),
    Nested(String, Fields),
}

impl Fields {
    /// An empty projection.
    pub fn new() -> Self {
        Self::default()
    }

    /// A projection of plain keys.
    pub fn of<S: Into<String>>(keys: impl IntoIterator<Item = S>) -> Self {
        Self(keys.into_iter().map(|k| Field::Key(k.into())).collect())
    }

    /// Adds a key.
    pub fn key(mut self, key: impl Into<String>) -> Self {
        self.0.push(Field::Key(key.into()));
        self
    }

    /// Adds an association with its own projection.
    pub fn nested(mut self, key: impl Into<String>, fields: Fields) -> Self {
        self.0.push(Field::Nested(key.into(), fields));
        self
    }

    fn to_value(&self) -> Value {
        Value::Array(
            self.0
                .iter()
                .map(|f| match f {
                    Field::Key(k) => Value::String(k.clone()),
                    Field::Nested(k, inner) => {
                        let mut map = serde_json::Map::new();
                        map.insert(k.clone(), inner.to_value());
                        Value::Object(map)
                    }
                })
                .collect(),
        )
    }

    /// The JSON text sent as the `fields` parameter.
    pub fn to_json(&self) -> String {
        self.to_value().to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_nested_json() {
        let fields = Fields::of(["id", "login"])
            .nested("roles", Fields::of(["id", "name"]))
            .key("purchasing-user");
        assert_eq!(
            fields.to_json(),
            r#"["id","login",{"roles":["id","name"]},"purchasing-user"]"#
        );
    }
}
