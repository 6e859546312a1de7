//! Tenant domains: validation and normalisation to a base URL.

use url::Url;

use crate::Error;

/// Host suffixes accepted by default: customers on `coupahost.com`, partners and demos on
/// `coupacloud.com`.
pub const DEFAULT_SUFFIXES: &[&str] = &["coupahost.com", "coupacloud.com"];

/// Normalises a tenant domain and builds its HTTPS base URL.
///
/// Accepted: a bare instance name (`acme`, which means `acme.coupahost.com`), or
/// `{instance}.{suffix}` with one of `suffixes`, optionally with `https://`, a trailing slash or
/// path, and the port `:443`, in any letter case. The instance name must be a DNS label
/// (`[a-z0-9]([-a-z0-9]*[a-z0-9])?`, at most 63 characters).
pub fn base_url_for_domain(input: &str, suffixes: &[&str]) -> Result<Url, Error> {
    let invalid = |reason: &str| Error::InvalidDomain {
        input: input.to_owned(),
        reason: format!(
            "{reason}; expected an instance name such as `acme` or a host such as \
             `acme.{}` (accepted suffixes: {})",
            suffixes.first().copied().unwrap_or("coupahost.com"),
            suffixes.join(", ")
        ),
    };
    let mut host = input.trim();
    if let Some((scheme, rest)) = host.split_once("://") {
        if !scheme.eq_ignore_ascii_case("https") {
            return Err(invalid("only https is supported"));
        }
        host = rest;
    }
    let host = host.split(['/', '?', '#']).next().unwrap_or_default();
    let host = match host.rsplit_once(':') {
        Some((h, "443")) => h,
        Some(_) => return Err(invalid("the only port allowed is 443")),
        None => host,
    };
    if host.contains('@') {
        return Err(invalid("credentials do not belong in the domain"));
    }
    let host = host.to_ascii_lowercase();
    if host.is_empty() {
        return Err(invalid("the domain is empty"));
    }
    let (label, suffix) = match host.split_once('.') {
        None => (
            host.as_str(),
            suffixes.first().copied().unwrap_or("coupahost.com"),
        ),
        Some((label, suffix)) => {
            if !suffixes.contains(&suffix) {
                return Err(invalid(&format!("`{suffix}` is not a Coupa host suffix")));
            }
            (label, suffix)
        }
    };
    if !is_dns_label(label) {
        return Err(invalid(&format!("`{label}` is not a valid instance name")));
    }
    Url::parse(&format!("https://{label}.{suffix}/")).map_err(|_| invalid("not a valid host"))
}

fn is_dns_label(label: &str) -> bool {
    let bytes = label.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 63
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
        && bytes.first() != Some(&b'-')
        && bytes.last() != Some(&b'-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_table() {
        let ok = [
            ("acme", "https://acme.coupahost.com/"),
            ("acme.coupahost.com", "https://acme.coupahost.com/"),
            ("https://acme.coupahost.com/", "https://acme.coupahost.com/"),
            (
                "https://acme.coupahost.com/api/users",
                "https://acme.coupahost.com/",
            ),
            ("acme.coupacloud.com", "https://acme.coupacloud.com/"),
            ("ACME.coupahost.com:443", "https://acme.coupahost.com/"),
            (
                "acme-test1.coupahost.com/",
                "https://acme-test1.coupahost.com/",
            ),
            ("  acme.coupahost.com  ", "https://acme.coupahost.com/"),
        ];
        for (input, expected) in ok {
            let url = base_url_for_domain(input, DEFAULT_SUFFIXES)
                .unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(url.as_str(), expected, "{input}");
        }
        let bad = [
            ("", "the domain is empty"),
            ("http://acme.coupahost.com", "only https is supported"),
            ("acme.coupahost.com:8443", "the only port allowed is 443"),
            (
                "acme.example.com",
                "`example.com` is not a Coupa host suffix",
            ),
            (
                "a.b.coupahost.com",
                "`b.coupahost.com` is not a Coupa host suffix",
            ),
            (
                "-acme.coupahost.com",
                "`-acme` is not a valid instance name",
            ),
            ("ac_me", "`ac_me` is not a valid instance name"),
            (
                "user@acme.coupahost.com",
                "credentials do not belong in the domain",
            ),
            (
                "acme.cso.coupahost.com",
                "`cso.coupahost.com` is not a Coupa host suffix",
            ),
        ];
        for (input, reason) in bad {
            let err = base_url_for_domain(input, DEFAULT_SUFFIXES).unwrap_err();
            let text = err.to_string();
            assert!(text.contains(reason), "{input}: {text}");
            assert!(
                text.contains("expected an instance name such as `acme`"),
                "{text}"
            );
        }
        let long = "a".repeat(64);
        assert!(base_url_for_domain(&long, DEFAULT_SUFFIXES).is_err());
        assert!(base_url_for_domain(&"a".repeat(63), DEFAULT_SUFFIXES).is_ok());
        let dev = base_url_for_domain("acme.coupadev.com", &["coupadev.com"]).unwrap();
        assert_eq!(dev.as_str(), "https://acme.coupadev.com/");
    }
}
