//! JSON decoding with the path of a failure and the id of the record it happened in.

use serde::de::DeserializeOwned;

use crate::error::Error;

/// Decodes `body` as `T`. On failure the error names the JSON path (`[3].roles[0].id`) and,
/// when the failing record has an `id`, that id.
pub(crate) fn decode<T: DeserializeOwned>(path: &str, body: &[u8]) -> Result<T, Error> {
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let value = serde_path_to_error::deserialize::<_, T>(&mut deserializer).map_err(|error| {
        let json_path = error.path().to_string();
        Error::Decode {
            path: path.to_owned(),
            record_id: record_id_at(body, &json_path),
            json_path,
            source: error.into_inner(),
        }
    })?;
    deserializer.end().map_err(|source| Error::Decode {
        path: path.to_owned(),
        json_path: ".".into(),
        record_id: None,
        source,
    })?;
    Ok(value)
}

/// The `id` of the record a JSON path points into: `[n]...` in a list, the root otherwise.
fn record_id_at(body: &[u8], json_path: &str) -> Option<i64> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    let record = match json_path.strip_prefix('[') {
        Some(rest) => {
            let index: usize = rest.split(']').next()?.parse().ok()?;
            value.get(index)?
        }
        None => &value,
    };
    record.get("id")?.as_i64()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Row {
        id: i64,
        roles: Vec<Role>,
    }

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Role {
        id: i64,
    }

    #[test]
    fn failures_name_path_and_record() {
        let body = br#"[{"id":1,"roles":[]},{"id":7,"roles":[{"id":"x"}]}]"#;
        let err = decode::<Vec<Row>>("/api/users", body).unwrap_err();
        assert_eq!(
            err.to_string(),
            "cannot decode /api/users at `[1].roles[0].id` (record id 7)"
        );
        let err = decode::<Vec<Row>>("/api/users", b"[{\"id\":1,\"roles\":[]}").unwrap_err();
        assert!(
            matches!(
                err,
                Error::Decode {
                    record_id: None,
                    ..
                }
            ),
            "{err:?}"
        );
        let err = decode::<Row>("/api/users/3", br#"{"id":3}"#).unwrap_err();
        assert_eq!(
            err.to_string(),
            "cannot decode /api/users/3 at `.` (record id 3)"
        );
        let err = decode::<Row>("/api/users/3", br#"{"id":3,"roles":[]} trailing"#).unwrap_err();
        assert!(matches!(err, Error::Decode { .. }));
    }
}
