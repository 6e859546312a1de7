//! `--FIELD VALUE` words read against a schema into the JSON object an action or an account
//! creation takes.

use connector_sdk::{FieldKind, FieldSpec};
use serde_json::{Map, Value};

use crate::{CliError, printable};

/// Reads `--first-name Ada --license a --license b` against `schema`: a flag names a field
/// with `-` for `_`; a list field repeats its flag, by its name or its singular (`--license`
/// for `licenses`); an integer or boolean field parses its value. An unknown flag, a missing
/// value or a field given twice is a usage error naming it.
pub(crate) fn read(
    target: &str,
    schema: &[FieldSpec],
    words: &[String],
) -> Result<Map<String, Value>, CliError> {
    let usage = |message: String| CliError::usage(format!("{target}: {message}"));
    let mut fields = Map::new();
    let mut words = words.iter();
    while let Some(word) = words.next() {
        let Some(flag) = word.strip_prefix("--").filter(|f| !f.is_empty()) else {
            return Err(usage(format!(
                "expected --FIELD VALUE, got {:?}",
                printable(word)
            )));
        };
        let name = flag.replace('-', "_");
        let spec = schema
            .iter()
            .find(|f| f.name == name)
            .or_else(|| {
                schema.iter().find(|f| {
                    f.kind == FieldKind::StringList && f.name.strip_suffix('s') == Some(&name)
                })
            })
            .ok_or_else(|| {
                let known: Vec<String> = schema
                    .iter()
                    .map(|f| format!("--{}", f.name.replace('_', "-")))
                    .collect();
                usage(format!(
                    "unknown field --{}; the fields are {}",
                    printable(flag),
                    if known.is_empty() {
                        "none".to_owned()
                    } else {
                        known.join(", ")
                    }
                ))
            })?;
        let value = words
            .next()
            .ok_or_else(|| usage(format!("--{flag} needs a value")))?;
        let parsed = match spec.kind {
            FieldKind::Integer => value.parse::<i64>().map(Value::from).map_err(|_| {
                usage(format!(
                    "--{flag}: {:?} is not an integer",
                    printable(value)
                ))
            })?,
            FieldKind::Boolean => value.parse::<bool>().map(Value::from).map_err(|_| {
                usage(format!(
                    "--{flag}: {:?} is not true or false",
                    printable(value)
                ))
            })?,
            _ => Value::String(value.clone()),
        };
        if spec.kind == FieldKind::StringList {
            let list = fields
                .entry(spec.name.clone())
                .or_insert_with(|| Value::Array(Vec::new()));
            if let Value::Array(items) = list {
                items.push(parsed);
            }
        } else if fields.insert(spec.name.clone(), parsed).is_some() {
            return Err(usage(format!("--{flag} is given twice")));
        }
    }
    Ok(fields)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema() -> Vec<FieldSpec> {
        vec![
            FieldSpec::required("first_name", FieldKind::String, ""),
            FieldSpec::optional("age", FieldKind::Integer, ""),
            FieldSpec::optional("admin", FieldKind::Boolean, ""),
            FieldSpec::optional("licenses", FieldKind::StringList, ""),
        ]
    }

    fn words(text: &str) -> Vec<String> {
        text.split_whitespace().map(str::to_owned).collect()
    }

    #[test]
    fn flags_become_typed_fields() {
        let fields = read(
            "x",
            &schema(),
            &words("--first-name Ada --age 36 --admin true --license a --licenses b"),
        )
        .unwrap();
        assert_eq!(
            Value::Object(fields),
            json!({"first_name": "Ada", "age": 36, "admin": true, "licenses": ["a", "b"]})
        );
        // A value may start with a dash.
        let fields = read("x", &schema(), &words("--first-name -Ada")).unwrap();
        assert_eq!(fields["first_name"], "-Ada");
    }

    #[test]
    fn bad_words_are_usage_errors_naming_them() {
        let cases = [
            ("Ada", "create account: expected --FIELD VALUE, got \"Ada\""),
            (
                "--nickname x",
                "create account: unknown field --nickname; the fields are --first-name, --age, \
                 --admin, --licenses",
            ),
            ("--age", "create account: --age needs a value"),
            ("--age x", "create account: --age: \"x\" is not an integer"),
            (
                "--admin yes",
                "create account: --admin: \"yes\" is not true or false",
            ),
            (
                "--first-name a --first-name b",
                "create account: --first-name is given twice",
            ),
        ];
        for (text, expected) in cases {
            let error = read("create account", &schema(), &words(text)).unwrap_err();
            assert_eq!(
                (error.exit_code(), error.chain()),
                (2, expected.to_owned()),
                "{text}"
            );
        }
    }
}
