//! ConductorOne client credentials: the client id (`<name>@<host[:port]>/<suffix>`), the secret
//! (`secret-token:conductorone.com:v1:<base64url JWK>`, an Ed25519 private key) and the signed
//! JWT client assertion the token endpoint takes.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::{Signer, SigningKey};
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;

/// Why credentials were refused. No variant carries the secret or any part of it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CredentialsError {
    /// The client id is not `<name>@<host>/<suffix>`.
    #[error("invalid client id {0:?}: expected <name>@<host>/<suffix>")]
    ClientId(String),
    /// The secret is not `secret-token:conductorone.com:v1:<key>`, or its key is not an Ed25519
    /// private key in a base64url JSON Web Key. The reason never quotes the secret.
    #[error("invalid client secret: {0}")]
    Secret(&'static str),
}

/// A ConductorOne client id, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientId {
    full: String,
    name: String,
    host: String,
}

impl ClientId {
    /// Parses `<name>@<host[:port]>/<suffix>`: split at the first `@`, then at the first `/`.
    pub fn parse(text: &str) -> Result<Self, CredentialsError> {
        let text = text.trim();
        let invalid = || CredentialsError::ClientId(text.to_owned());
        let (name, rest) = text.split_once('@').ok_or_else(invalid)?;
        let (host, _suffix) = rest.split_once('/').ok_or_else(invalid)?;
        if name.is_empty() || host.is_empty() || host.contains(char::is_whitespace) {
            return Err(invalid());
        }
        Ok(Self {
            full: text.to_owned(),
            name: name.to_owned(),
            host: host.to_owned(),
        })
    }

    /// The whole id, as the JWT's `iss` and `sub` and the token form's `client_id`.
    pub fn as_str(&self) -> &str {
        &self.full
    }

    /// The part before `@`, which names this client in the user agent.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// `host[:port]`, where the token endpoint and the service are.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The host without its port: the JWT's audience.
    pub fn audience(&self) -> &str {
        match self.host.rsplit_once(':') {
            Some((host, port)) if port.bytes().all(|b| b.is_ascii_digit()) => host,
            _ => &self.host,
        }
    }
}

impl std::fmt::Display for ClientId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.full)
    }
}

/// The signing key of a client secret. Debug output never shows it.
#[derive(Clone)]
pub struct ClientSecret {
    key: SigningKey,
    kid: Option<String>,
}

impl std::fmt::Debug for ClientSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ClientSecret([REDACTED])")
    }
}

#[derive(serde::Deserialize)]
struct Jwk {
    kty: String,
    crv: String,
    x: String,
    d: Option<String>,
    kid: Option<String>,
}

impl ClientSecret {
    /// Parses `secret-token:conductorone.com:v1:<base64url JWK>`; the key must be an Ed25519
    /// private key whose `x` is the public half of `d`.
    pub fn parse(secret: &SecretString) -> Result<Self, CredentialsError> {
        let text = secret.expose_secret().trim();
        let mut parts = text.splitn(4, ':');
        let (Some(_), Some(_), Some(version), Some(encoded)) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(CredentialsError::Secret(
                "expected secret-token:conductorone.com:v1:<key>",
            ));
        };
        if version != "v1" {
            return Err(CredentialsError::Secret("the version must be v1"));
        }
        let json = URL_SAFE_NO_PAD
            .decode(encoded)
            .map_err(|_| CredentialsError::Secret("the key is not unpadded base64url"))?;
        let jwk: Jwk = serde_json::from_slice(&json)
            .map_err(|_| CredentialsError::Secret("the key is not a JSON Web Key"))?;
        if jwk.kty != "OKP" || jwk.crv != "Ed25519" {
            return Err(CredentialsError::Secret("the key is not an Ed25519 key"));
        }
        let d = jwk
            .d
            .ok_or(CredentialsError::Secret("the key has no private part"))?;
        let seed: [u8; 32] = URL_SAFE_NO_PAD
            .decode(d)
            .ok()
            .and_then(|bytes| bytes.try_into().ok())
            .ok_or(CredentialsError::Secret("the private key is not 32 bytes"))?;
        let key = SigningKey::from_bytes(&seed);
        let x = URL_SAFE_NO_PAD
            .decode(jwk.x)
            .map_err(|_| CredentialsError::Secret("the public key is not base64url"))?;
        if x.as_slice() != key.verifying_key().as_bytes() {
            return Err(CredentialsError::Secret(
                "the public key does not match the private key",
            ));
        }
        Ok(Self { key, kid: jwk.kid })
    }

    /// A secret for `key`, as ConductorOne issues them (for tests and fake control planes).
    pub fn encode(key: &SigningKey) -> SecretString {
        let jwk = json!({
            "kty": "OKP",
            "crv": "Ed25519",
            "x": URL_SAFE_NO_PAD.encode(key.verifying_key().as_bytes()),
            "d": URL_SAFE_NO_PAD.encode(key.to_bytes()),
        });
        SecretString::from(format!(
            "secret-token:conductorone.com:v1:{}",
            URL_SAFE_NO_PAD.encode(jwk.to_string())
        ))
    }

    /// The public key that verifies this secret's signatures.
    pub fn verifying_key(&self) -> ed25519_dalek::VerifyingKey {
        self.key.verifying_key()
    }

    /// The client assertion: a compact JWS (EdDSA) with `iss` = `sub` = the client id, `aud`
    /// its host without the port, valid from two minutes before `now` to two minutes after.
    pub fn assertion(&self, client: &ClientId, now: u64) -> String {
        let mut nonce = [0u8; 16];
        rand::fill(&mut nonce);
        let nonce: String = nonce.iter().map(|b| format!("{b:02x}")).collect();
        let mut header = json!({"alg": "EdDSA", "nonce": nonce});
        if let Some(kid) = &self.kid {
            header["kid"] = json!(kid);
        }
        let claims = json!({
            "iss": client.as_str(),
            "sub": client.as_str(),
            "aud": client.audience(),
            "exp": now + 120,
            "nbf": now.saturating_sub(120),
            "iat": now,
        });
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let signature = self.key.sign(signing_input.as_bytes());
        format!(
            "{signing_input}.{}",
            URL_SAFE_NO_PAD.encode(signature.to_bytes())
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> SigningKey {
        SigningKey::from_bytes(&[7u8; 32])
    }

    #[test]
    fn client_ids_split_at_the_first_at_and_slash() {
        let id = ClientId::parse("happy-otter-1@acme.conductor.one:2443/pcc").unwrap();
        assert_eq!(id.name(), "happy-otter-1");
        assert_eq!(id.host(), "acme.conductor.one:2443");
        assert_eq!(id.audience(), "acme.conductor.one");
        for bad in [
            "no-at/pcc",
            "name@host-without-slash",
            "@host/pcc",
            "name@/pcc",
        ] {
            assert_eq!(
                ClientId::parse(bad),
                Err(CredentialsError::ClientId(bad.into())),
                "{bad}"
            );
        }
    }

    #[test]
    fn secrets_parse_and_refusals_never_quote_them() {
        let secret = ClientSecret::encode(&key());
        let parsed = ClientSecret::parse(&secret).unwrap();
        assert_eq!(parsed.verifying_key(), key().verifying_key());
        assert_eq!(format!("{parsed:?}"), "ClientSecret([REDACTED])");
        let cases = [
            (
                "secret-token:conductorone.com:v2:abc",
                "the version must be v1",
            ),
            (
                "secret-token:conductorone.com:v1:@@@",
                "the key is not unpadded base64url",
            ),
            (
                "not-a-secret",
                "expected secret-token:conductorone.com:v1:<key>",
            ),
        ];
        for (text, reason) in cases {
            let error = ClientSecret::parse(&SecretString::from(text)).unwrap_err();
            assert_eq!(error, CredentialsError::Secret(reason));
            assert!(!error.to_string().contains("@@@"));
        }
        // A public key that is not the private key's half.
        let other = SigningKey::from_bytes(&[8u8; 32]);
        let jwk = json!({"kty": "OKP", "crv": "Ed25519",
            "x": URL_SAFE_NO_PAD.encode(other.verifying_key().as_bytes()),
            "d": URL_SAFE_NO_PAD.encode(key().to_bytes())});
        let text = format!(
            "secret-token:conductorone.com:v1:{}",
            URL_SAFE_NO_PAD.encode(jwk.to_string())
        );
        assert_eq!(
            ClientSecret::parse(&SecretString::from(text)).unwrap_err(),
            CredentialsError::Secret("the public key does not match the private key")
        );
    }

    #[test]
    fn the_assertion_is_signed_and_claims_what_baton_claims() {
        use ed25519_dalek::Verifier;
        let secret = ClientSecret::parse(&ClientSecret::encode(&key())).unwrap();
        let client = ClientId::parse("otter@acme.conductor.one:2443/pcc").unwrap();
        let jws = secret.assertion(&client, 1_800_000_000);
        let parts: Vec<&str> = jws.split('.').collect();
        assert_eq!(parts.len(), 3);
        let claims: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
        assert_eq!(
            claims,
            json!({"iss": "otter@acme.conductor.one:2443/pcc",
                "sub": "otter@acme.conductor.one:2443/pcc", "aud": "acme.conductor.one",
                "exp": 1_800_000_120u64, "nbf": 1_799_999_880u64, "iat": 1_800_000_000u64})
        );
        let header: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).unwrap()).unwrap();
        assert_eq!(header["alg"], "EdDSA");
        assert_eq!(header["nonce"].as_str().unwrap().len(), 32);
        let signature: [u8; 64] = URL_SAFE_NO_PAD
            .decode(parts[2])
            .unwrap()
            .try_into()
            .unwrap();
        key()
            .verifying_key()
            .verify(
                format!("{}.{}", parts[0], parts[1]).as_bytes(),
                &ed25519_dalek::Signature::from_bytes(&signature),
            )
            .unwrap();
    }
}
