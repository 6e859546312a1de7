//! Typed argument schemas shared by actions and account creation, and their validation.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The type of one argument or account field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum FieldKind {
    /// A JSON string.
    String,
    /// A JSON integer.
    Integer,
    /// A JSON boolean.
    Boolean,
    /// A JSON array of strings.
    StringList,
}

impl FieldKind {
    fn accepts(self, value: &Value) -> bool {
        match self {
            Self::String => value.is_string(),
            Self::Integer => value.is_i64() || value.is_u64(),
            Self::Boolean => value.is_boolean(),
            Self::StringList => value
                .as_array()
                .is_some_and(|items| items.iter().all(Value::is_string)),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::String => "a string",
            Self::Integer => "an integer",
            Self::Boolean => "a boolean",
            Self::StringList => "a list of strings",
        }
    }
}

fn json_type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_f64() => "number",
        Value::Number(_) => "integer",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// One declared argument or field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct FieldSpec {
    /// The name, as the host passes it.
    pub name: String,
    /// What it means.
    pub description: String,
    /// Its type.
    pub kind: FieldKind,
    /// Whether it must be present.
    pub required: bool,
}

impl FieldSpec {
    /// A required field.
    pub fn required(
        name: impl Into<String>,
        kind: FieldKind,
        description: impl Into<String>,
    ) -> Self {
        Self {
            name: name.into(),
            description: description.into(),
            kind,
            required: true,
        }
    }

    /// An optional field.
    pub fn optional(
        name: impl Into<String>,
        kind: FieldKind,
        description: impl Into<String>,
    ) -> Self {
        Self {
            required: false,
            ..Self::required(name, kind, description)
        }
    }
}

/// Why arguments were refused. The connector is not called when this is returned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ArgumentError {
    /// A required argument is absent (or `null`).
    #[error("{target}: missing required argument `{name}`")]
    Missing {
        /// What was being called, such as ``action `enable_user` ``.
        target: String,
        /// The argument.
        name: String,
    },
    /// An argument has the wrong JSON type.
    #[error("{target}: argument `{name}` must be {expected}, got {found}")]
    WrongType {
        /// What was being called.
        target: String,
        /// The argument.
        name: String,
        /// The declared type.
        expected: &'static str,
        /// The JSON type received.
        found: &'static str,
    },
    /// An argument the schema does not declare.
    #[error("{target}: unknown argument `{name}`")]
    Unknown {
        /// What was being called.
        target: String,
        /// The argument.
        name: String,
    },
    /// The connector found an argument's value invalid.
    #[error("{target}: invalid argument `{name}`: {reason}")]
    Invalid {
        /// What was being called.
        target: String,
        /// The argument.
        name: String,
        /// Why.
        reason: String,
    },
    /// The arguments do not fit the type a connector reads them into ([`Arguments::parse`]).
    #[error("{target}: arguments do not fit: {reason}")]
    Unfit {
        /// What was being called.
        target: String,
        /// What serde said.
        reason: String,
    },
}

/// Arguments that passed validation against their schema. Absent optional arguments and `null`
/// values are removed, so an accessor returning `None` means "not given".
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Arguments {
    target: String,
    values: Map<String, Value>,
}

impl Arguments {
    /// Validates `values` against `schema`. `target` names the call in errors.
    pub fn validate(
        target: impl Into<String>,
        schema: &[FieldSpec],
        values: Map<String, Value>,
    ) -> Result<Self, ArgumentError> {
        let target = target.into();
        if let Some(name) = values
            .keys()
            .find(|k| !schema.iter().any(|f| &f.name == *k))
        {
            return Err(ArgumentError::Unknown {
                target,
                name: name.clone(),
            });
        }
        for field in schema {
            match values.get(&field.name) {
                None | Some(Value::Null) if field.required => {
                    return Err(ArgumentError::Missing {
                        target,
                        name: field.name.clone(),
                    });
                }
                None | Some(Value::Null) => {}
                Some(value) if !field.kind.accepts(value) => {
                    return Err(ArgumentError::WrongType {
                        target,
                        name: field.name.clone(),
                        expected: field.kind.name(),
                        found: json_type_name(value),
                    });
                }
                Some(_) => {}
            }
        }
        let values = values.into_iter().filter(|(_, v)| !v.is_null()).collect();
        Ok(Self { target, values })
    }

    /// A string argument.
    pub fn str(&self, name: &str) -> Option<&str> {
        self.values.get(name).and_then(Value::as_str)
    }

    /// An integer argument.
    pub fn i64(&self, name: &str) -> Option<i64> {
        self.values.get(name).and_then(Value::as_i64)
    }

    /// A boolean argument.
    pub fn bool(&self, name: &str) -> Option<bool> {
        self.values.get(name).and_then(Value::as_bool)
    }

    /// A list-of-strings argument.
    pub fn str_list(&self, name: &str) -> Option<Vec<&str>> {
        self.values
            .get(name)
            .and_then(Value::as_array)
            .map(|items| items.iter().filter_map(Value::as_str).collect())
    }

    /// The arguments as a `T` (a struct whose fields are the schema's names), for a connector
    /// that would rather read one typed value than each argument; [`ArgumentError::Unfit`] when
    /// they do not deserialise into it. The error names the argument, never its value: serde's
    /// own message quotes a refused value, and an argument may be a password.
    pub fn parse<T: serde::de::DeserializeOwned>(&self) -> Result<T, ArgumentError> {
        let value = Value::Object(self.values.clone());
        serde_path_to_error::deserialize(&value).map_err(|e| {
            let path = e.path().to_string();
            let reason = if path == "." {
                // About the whole value (a missing or unknown field): names only.
                e.into_inner().to_string()
            } else {
                format!("argument `{path}` does not have the type the connector reads")
            };
            ArgumentError::Unfit {
                target: self.target.clone(),
                reason,
            }
        })
    }

    /// All arguments as JSON.
    pub fn values(&self) -> &Map<String, Value> {
        &self.values
    }

    /// An [`ArgumentError::Invalid`] for `name`, for a connector that checks a value's content.
    pub fn invalid(&self, name: &str, reason: impl Into<String>) -> ArgumentError {
        ArgumentError::Invalid {
            target: self.target.clone(),
            name: name.to_owned(),
            reason: reason.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema() -> Vec<FieldSpec> {
        vec![
            FieldSpec::required("user_id", FieldKind::String, "the user"),
            FieldSpec::optional("count", FieldKind::Integer, "how many"),
            FieldSpec::optional("tags", FieldKind::StringList, "labels"),
        ]
    }

    fn args(value: Value) -> Map<String, Value> {
        value.as_object().cloned().unwrap()
    }

    #[test]
    fn valid_arguments_are_readable() {
        let a = Arguments::validate(
            "t",
            &schema(),
            args(json!({"user_id": "5", "tags": ["a"], "count": null})),
        )
        .unwrap();
        assert_eq!(a.str("user_id"), Some("5"));
        assert_eq!(a.i64("count"), None);
        assert_eq!(a.str_list("tags"), Some(vec!["a"]));
        assert!(!a.values().contains_key("count"), "nulls are removed");
    }

    #[test]
    fn arguments_parse_into_a_typed_value() {
        #[derive(Debug, serde::Deserialize, PartialEq)]
        struct Wanted {
            user_id: String,
            #[serde(default)]
            tags: Vec<String>,
        }
        let a = Arguments::validate("x", &schema(), args(json!({"user_id": "5", "tags": ["a"]})))
            .unwrap();
        let wanted = Wanted {
            user_id: "5".into(),
            tags: vec!["a".into()],
        };
        assert_eq!(a.parse::<Wanted>().unwrap(), wanted);
        let err = a.parse::<(u8, u8)>().unwrap_err();
        assert!(
            err.to_string().starts_with("x: arguments do not fit: "),
            "{err}"
        );
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        struct Numeric {
            user_id: u64,
        }
        let secret = Arguments::validate("x", &schema(), args(json!({"user_id": "hunter2"})))
            .unwrap()
            .parse::<Numeric>()
            .unwrap_err();
        assert_eq!(
            secret.to_string(),
            "x: arguments do not fit: argument `user_id` does not have the type the connector reads"
        );
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        struct Needs {
            user_id: String,
            password: String,
        }
        let missing = a.parse::<Needs>().unwrap_err();
        assert_eq!(
            missing.to_string(),
            "x: arguments do not fit: missing field `password`"
        );
    }

    #[test]
    fn errors_name_the_argument() {
        let cases = [
            (json!({}), "action `x`: missing required argument `user_id`"),
            (
                json!({"user_id": null}),
                "action `x`: missing required argument `user_id`",
            ),
            (
                json!({"user_id": 5}),
                "action `x`: argument `user_id` must be a string, got integer",
            ),
            (
                json!({"user_id": "5", "count": 1.5}),
                "action `x`: argument `count` must be an integer, got number",
            ),
            (
                json!({"user_id": "5", "tags": [1]}),
                "action `x`: argument `tags` must be a list of strings, got array",
            ),
            (
                json!({"user_id": "5", "userId": "5"}),
                "action `x`: unknown argument `userId`",
            ),
        ];
        for (input, message) in cases {
            let err = Arguments::validate("action `x`", &schema(), args(input)).unwrap_err();
            assert_eq!(err.to_string(), message);
        }
    }
}
