//! Coupa's query language: `attr[op]=value` filters (ANDed), `limit`, `offset`.

use serde_json::{Map, Value};

/// Coupa's page cap.
pub(crate) const PAGE_CAP: usize = 50;

/// A filter operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Eq,
    NotEq,
    Gt,
    Lt,
    GtOrEq,
    LtOrEq,
    Contains,
    StartsWith,
    EndsWith,
    In,
    NotIn,
    Blank,
}

impl Op {
    fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "gt" => Self::Gt,
            "lt" => Self::Lt,
            "gt_or_eq" => Self::GtOrEq,
            "lt_or_eq" => Self::LtOrEq,
            "not_eq" => Self::NotEq,
            "contains" => Self::Contains,
            "starts_with" => Self::StartsWith,
            "ends_with" => Self::EndsWith,
            "in" => Self::In,
            "not_in" => Self::NotIn,
            "blank" => Self::Blank,
            _ => return None,
        })
    }
}

/// One parsed filter: `path` is the attribute and, for associations, the nested attribute.
#[derive(Debug, Clone)]
pub(crate) struct Filter {
    path: Vec<String>,
    op: Op,
    value: String,
}

/// A parsed list query.
#[derive(Debug, Clone, Default)]
pub(crate) struct ListQuery {
    pub(crate) filters: Vec<Filter>,
    pub(crate) limit: usize,
    pub(crate) offset: usize,
    pub(crate) after_id: Option<i64>,
    pub(crate) fields: Option<String>,
}

/// Parses the query pairs of a list request. Unknown parameters are filters.
pub(crate) fn parse(pairs: &[(String, String)]) -> Result<ListQuery, String> {
    let mut query = ListQuery {
        limit: PAGE_CAP,
        ..ListQuery::default()
    };
    for (key, value) in pairs {
        match key.as_str() {
            "limit" => {
                let limit: usize = value.parse().map_err(|_| format!("bad limit {value:?}"))?;
                query.limit = limit.clamp(1, PAGE_CAP);
            }
            "offset" => {
                query.offset = value.parse().map_err(|_| format!("bad offset {value:?}"))?;
            }
            "fields" => query.fields = Some(value.clone()),
            "return_object" | "dir" | "order_by" => {}
            _ => {
                let filter = parse_filter(key, value)?;
                if filter.is_id_gt() {
                    let id = value.parse().map_err(|_| format!("bad id[gt] {value:?}"))?;
                    query.after_id = Some(id);
                }
                query.filters.push(filter);
            }
        }
    }
    Ok(query)
}

fn parse_filter(key: &str, value: &str) -> Result<Filter, String> {
    let mut parts: Vec<String> = Vec::new();
    let (head, mut rest) = match key.find('[') {
        Some(i) => (&key[..i], &key[i..]),
        None => (key, ""),
    };
    parts.push(head.to_owned());
    while let Some(stripped) = rest.strip_prefix('[') {
        let end = stripped
            .find(']')
            .ok_or_else(|| format!("bad filter {key:?}"))?;
        parts.push(stripped[..end].to_owned());
        rest = &stripped[end + 1..];
    }
    if !rest.is_empty() || head.is_empty() {
        return Err(format!("bad filter {key:?}"));
    }
    let op = match parts.last().and_then(|p| Op::parse(p)) {
        Some(op) if parts.len() > 1 => {
            parts.pop();
            op
        }
        _ => Op::Eq,
    };
    Ok(Filter {
        path: parts,
        op,
        value: value.to_owned(),
    })
}

fn lookup<'a>(record: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    record
        .get(name)
        .or_else(|| record.get(&name.replace('_', "-")))
}

fn compare(actual: &Value, expected: &str) -> Option<std::cmp::Ordering> {
    match actual {
        Value::Number(n) => {
            let a = n.as_f64()?;
            let b: f64 = expected.parse().ok()?;
            a.partial_cmp(&b)
        }
        Value::String(s) => {
            // Dates may come with `+00:00` or bare; compare as text.
            Some(s.as_str().cmp(expected))
        }
        Value::Bool(b) => Some(b.to_string().as_str().cmp(expected)),
        _ => None,
    }
}

fn text(actual: &Value) -> Option<String> {
    match actual {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn matches_value(actual: &Value, op: Op, expected: &str) -> bool {
    use std::cmp::Ordering::*;
    match op {
        Op::Eq => text(actual).is_some_and(|t| t == expected),
        Op::NotEq => text(actual).is_none_or(|t| t != expected),
        Op::Gt => compare(actual, expected) == Some(Greater),
        Op::Lt => compare(actual, expected) == Some(Less),
        Op::GtOrEq => matches!(compare(actual, expected), Some(Greater | Equal)),
        Op::LtOrEq => matches!(compare(actual, expected), Some(Less | Equal)),
        Op::Contains => text(actual).is_some_and(|t| t.contains(expected)),
        Op::StartsWith => text(actual).is_some_and(|t| t.starts_with(expected)),
        Op::EndsWith => text(actual).is_some_and(|t| t.ends_with(expected)),
        Op::In => text(actual).is_some_and(|t| expected.split(',').any(|e| e == t)),
        Op::NotIn => text(actual).is_none_or(|t| expected.split(',').all(|e| e != t)),
        Op::Blank => {
            let blank = match actual {
                Value::Null => true,
                Value::String(s) => s.is_empty(),
                Value::Array(a) => a.is_empty(),
                _ => false,
            };
            blank == (expected == "true")
        }
    }
}

impl Filter {
    /// Whether this is the keyset filter `id[gt]`.
    pub(crate) fn is_id_gt(&self) -> bool {
        self.path == ["id"] && self.op == Op::Gt
    }

    /// Whether `record` (the full, unprojected JSON) passes. An unknown attribute is an error
    /// so that a misspelt filter fails loudly.
    pub(crate) fn matches(&self, record: &Map<String, Value>) -> Result<bool, String> {
        let name = &self.path[0];
        let Some(actual) = lookup(record, name) else {
            if name == "type" {
                // Users have no `type`: `type[blank]=true` keeps every (ordinary) user.
                return Ok(self.op == Op::Blank && self.value == "true");
            }
            return Err(format!("unknown filter attribute {name:?}"));
        };
        if self.path.len() == 1 {
            return Ok(matches_value(actual, self.op, &self.value));
        }
        let nested = &self.path[1];
        let items: Vec<&Map<String, Value>> = match actual {
            Value::Array(items) => items.iter().filter_map(Value::as_object).collect(),
            Value::Object(o) => vec![o],
            _ => Vec::new(),
        };
        Ok(items.iter().any(|item| {
            lookup(item, nested).is_some_and(|v| matches_value(v, self.op, &self.value))
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
        items
            .iter()
            .map(|(k, v)| ((*k).into(), (*v).into()))
            .collect()
    }

    #[test]
    fn filters_match_like_coupa() {
        let record = json!({"id": 42, "login": "jdoe", "updated-at": "2024-03-01T00:00:00+00:00",
            "active": true, "roles": [{"id": 3, "name": "User"}]});
        let record = record.as_object().unwrap();
        let cases = [
            (("id[gt]", "41"), true),
            (("id[gt]", "42"), false),
            (("id[lt_or_eq]", "42"), true),
            (("login", "jdoe"), true),
            (("login[contains]", "do"), true),
            (("login[starts_with]", "x"), false),
            (("login[in]", "a,jdoe"), true),
            (("login[not_in]", "a,jdoe"), false),
            (("updated_at[gt]", "2024-01-01T00:00:00+00:00"), true),
            (("updated-at[gt]", "2024-06-01T00:00:00+00:00"), false),
            (("active", "true"), true),
            (("roles[id]", "3"), true),
            (("roles[name]", "Admin"), false),
            (("login[blank]", "false"), true),
            (("type[blank]", "true"), true),
        ];
        for ((k, v), expected) in cases {
            let q = parse(&pairs(&[(k, v)])).unwrap();
            assert_eq!(q.filters[0].matches(record).unwrap(), expected, "{k}={v}");
        }
        let q = parse(&pairs(&[("logn", "x")])).unwrap();
        assert!(q.filters[0].matches(record).is_err());
        let q = parse(&pairs(&[
            ("limit", "500"),
            ("offset", "100"),
            ("id[gt]", "7"),
        ]))
        .unwrap();
        assert_eq!((q.limit, q.offset, q.after_id), (50, 100, Some(7)));
        assert!(parse(&pairs(&[("limit", "x")])).is_err());
    }
}
