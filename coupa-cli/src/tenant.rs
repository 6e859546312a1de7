//! Where the Coupa programs find their tenant (real, or simulated when asked and built with the
//! `sim` feature) and how they read ids from the command line.

use std::ffi::OsString;

use connector_cli::CliError;
#[cfg(feature = "sim")]
use coupa_sim::{CoupaSim, RateLimit, SimOptions, Sizes, Tenant};
use secrecy::{ExposeSecret, SecretString};

/// Where to find the tenant, from flags and the environment. The flags are baton-coupa's
/// (`--coupa-domain`, `--coupa-client-id`, `--coupa-client-secret`), so swapping the Go
/// connector changes no flag; each also reads `COUPA_*` and baton's `BATON_COUPA_*` variables.
/// `--client-id` and `--client-secret` are ConductorOne's (see `serve`), as in baton.
#[derive(Clone, clap::Args)]
pub struct TenantArgs {
    /// Tenant domain (`acme` or `acme.coupahost.com`) [env: COUPA_DOMAIN, BATON_COUPA_DOMAIN]
    #[arg(long = "coupa-domain", visible_alias = "domain")]
    pub domain: Option<String>,
    /// Explicit base URL (sandbox, proxy) [env: COUPA_BASE_URL]
    #[arg(long = "coupa-base-url", visible_alias = "base-url")]
    pub base_url: Option<String>,
    /// Coupa OAuth client id [env: COUPA_CLIENT_ID, BATON_COUPA_CLIENT_ID]
    #[arg(long = "coupa-client-id")]
    pub client_id: Option<String>,
    /// Coupa OAuth client secret; prefer the environment, which other users of the host cannot
    /// read [env: COUPA_CLIENT_SECRET, BATON_COUPA_CLIENT_SECRET]
    #[arg(long = "coupa-client-secret", value_name = "SECRET")]
    pub client_secret: Option<SecretString>,
    /// Space-separated OAuth scopes [env: COUPA_SCOPES]
    #[arg(long)]
    pub scopes: Option<String>,
    /// Ceiling of the client-side rate limit in requests per second; 0 turns it off. The limit
    /// adapts below it to what the tenant grants (docs/rate-limit.md). Default: 25, Coupa's
    /// documented rate; off against a simulated tenant without `--sim-rate-limit`.
    #[arg(long)]
    pub rate_limit: Option<u32>,
    /// The simulated tenant, when asked for.
    #[cfg(feature = "sim")]
    #[command(flatten)]
    pub simulated: SimArgs,
}

/// The simulated tenant's flags (feature `sim`).
#[cfg(feature = "sim")]
#[derive(Debug, Clone, clap::Args)]
pub struct SimArgs {
    /// Act on a generated simulated tenant on loopback, not on Coupa.
    #[arg(long, conflicts_with = "sim_fixture")]
    pub sim: bool,
    /// Act on the small hand-written simulated tenant (users 1 ada, 2 grace, 3 alan; groups
    /// 10-12; roles 1-3; account groups 20-21; content groups 30-31).
    #[arg(long)]
    pub sim_fixture: bool,
    /// Users in the generated simulated tenant.
    #[arg(long, default_value_t = 5_000)]
    pub sim_users: usize,
    /// Seed of the generated simulated tenant.
    #[arg(long, default_value_t = 42)]
    pub sim_seed: u64,
    /// Latency of every simulated response, in milliseconds.
    #[arg(long, default_value_t = 0)]
    pub sim_latency_ms: u64,
    /// Turn on the simulator's leaky-bucket rate limit (25 requests/s, burst 20).
    #[arg(long)]
    pub sim_rate_limit: bool,
}

/// A tenant to talk to: its client configuration, and the simulator when one was started.
pub struct Target {
    /// The client configuration.
    pub config: coupa_client::Config,
    /// The simulator, when the tenant is simulated.
    #[cfg(feature = "sim")]
    pub sim: Option<CoupaSim>,
    /// How a simulated tenant is named in sync fingerprints (by what it holds, not by its
    /// URL, which changes with every start).
    pub tenant: Option<String>,
}

impl Target {
    /// The connector configuration for this tenant.
    pub fn connector_config(&self) -> coupa_connector::ConnectorConfig {
        let config = coupa_connector::ConnectorConfig::new(self.config.clone());
        match &self.tenant {
            Some(tenant) => config.with_tenant(tenant.clone()),
            None => config,
        }
    }
}

/// What to do when no credentials and no simulator flag are given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WithoutCredentials {
    /// Refuse: a program that changes access must never act on a tenant nobody named.
    Refuse,
    /// Start the generated simulated tenant (the read-only demo of `coupa-sync`).
    Demo,
}

/// The flag's value, else the first of `names` that is set.
fn first(flag: &Option<String>, names: &[&str]) -> Result<Option<String>, CliError> {
    if flag.is_some() {
        return Ok(flag.clone());
    }
    for name in names {
        if let Some(value) = env(name)? {
            return Ok(Some(value));
        }
    }
    Ok(None)
}

impl std::fmt::Debug for TenantArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TenantArgs")
            .field("domain", &self.domain)
            .field("base_url", &self.base_url)
            .field("client_id", &self.client_id)
            .field(
                "client_secret",
                &self.client_secret.as_ref().map(|_| "[REDACTED]"),
            )
            .field("simulated", &self.simulated())
            .finish_non_exhaustive()
    }
}

/// An environment variable: `None` when unset or blank, an error when not UTF-8.
fn env(name: &str) -> Result<Option<String>, CliError> {
    read_env(name, std::env::var_os(name))
}

fn read_env(name: &str, value: Option<OsString>) -> Result<Option<String>, CliError> {
    match value.map(OsString::into_string) {
        None => Ok(None),
        Some(Ok(text)) => Ok(Some(text).filter(|v| !v.trim().is_empty())),
        Some(Err(_)) => Err(CliError::usage(format!("{name} is not valid UTF-8"))),
    }
}

/// What a program that needs a tenant says without one.
const NO_TENANT: &str = if cfg!(feature = "sim") {
    "no Coupa tenant given: set COUPA_DOMAIN (or COUPA_BASE_URL), COUPA_CLIENT_ID and \
     COUPA_CLIENT_SECRET, or pass --sim or --sim-fixture to act on a simulated tenant"
} else {
    "no Coupa tenant given: set COUPA_DOMAIN (or COUPA_BASE_URL), COUPA_CLIENT_ID and \
     COUPA_CLIENT_SECRET"
};

fn usage(error: impl std::fmt::Display) -> CliError {
    CliError::usage(error.to_string())
}

impl TenantArgs {
    /// Whether a simulator flag was given.
    pub fn simulated(&self) -> bool {
        #[cfg(feature = "sim")]
        return self.simulated.sim || self.simulated.sim_fixture;
        #[cfg(not(feature = "sim"))]
        false
    }

    /// Resolves the tenant: flags over environment. A simulated tenant only on `--sim` or
    /// `--sim-fixture` (or, for [`WithoutCredentials::Demo`], when nothing at all is set).
    /// Missing or partial credentials name what is missing; a base URL without credentials is
    /// refused before any request.
    pub async fn resolve(&self, without: WithoutCredentials) -> Result<Target, CliError> {
        let domain = first(&self.domain, &["COUPA_DOMAIN", "BATON_COUPA_DOMAIN"])?;
        let base_url = first(&self.base_url, &["COUPA_BASE_URL"])?;
        let client_id = first(
            &self.client_id,
            &["COUPA_CLIENT_ID", "BATON_COUPA_CLIENT_ID"],
        )?;
        let secret = match &self.client_secret {
            Some(secret) => Some(secret.expose_secret().to_owned()),
            None => first(&None, &["COUPA_CLIENT_SECRET", "BATON_COUPA_CLIENT_SECRET"])?,
        };
        let scopes = self.scopes.clone().or(env("COUPA_SCOPES")?);
        let named: Vec<&str> = [
            domain.as_ref().map(|_| "COUPA_DOMAIN"),
            base_url.as_ref().map(|_| "COUPA_BASE_URL"),
            client_id.as_ref().map(|_| "COUPA_CLIENT_ID"),
            secret.as_ref().map(|_| "COUPA_CLIENT_SECRET"),
        ]
        .into_iter()
        .flatten()
        .collect();
        if self.simulated() {
            if !named.is_empty() {
                return Err(CliError::usage(format!(
                    "--sim and --sim-fixture act on a simulated tenant, but {} {} set: unset \
                     {} or drop the flag",
                    named.join(", "),
                    if named.len() == 1 { "is" } else { "are" },
                    if named.len() == 1 { "it" } else { "them" },
                )));
            }
            return self.start_simulator().await;
        }
        if named.is_empty() {
            return match without {
                WithoutCredentials::Demo if cfg!(feature = "sim") => self.start_simulator().await,
                _ => Err(CliError::usage(NO_TENANT)),
            };
        }
        // Flags over the environment.
        let given = |name: &str| -> Option<String> {
            match name {
                "COUPA_DOMAIN" => domain.clone(),
                "COUPA_BASE_URL" => base_url.clone(),
                "COUPA_CLIENT_ID" => client_id.clone(),
                "COUPA_CLIENT_SECRET" => secret.clone(),
                "COUPA_SCOPES" => scopes.clone(),
                _ => None,
            }
        };
        let config = coupa_client::Config::from_lookup(given).map_err(|e| match e {
            coupa_client::Error::InvalidConfig { reason } => CliError::usage(reason),
            other => usage(other),
        })?;
        let config = match self.rate_limit {
            Some(rate) => config.with_rate_limit(Some(rate)),
            None => config,
        };
        Ok(Target {
            config,
            #[cfg(feature = "sim")]
            sim: None,
            tenant: None,
        })
    }

    /// The simulated tenant the flags describe, started.
    #[cfg(feature = "sim")]
    async fn start_simulator(&self) -> Result<Target, CliError> {
        let flags = &self.simulated;
        let mut options = SimOptions::default()
            .with_latency(std::time::Duration::from_millis(flags.sim_latency_ms))
            .with_newer_licenses_hidden();
        if flags.sim_rate_limit {
            options = options.with_rate_limit(Some(RateLimit::default()));
        }
        let (tenant, name) = if flags.sim_fixture {
            (Tenant::fixture(), "simulated fixture tenant".to_owned())
        } else {
            (
                Tenant::generate(flags.sim_seed, Sizes::users(flags.sim_users)),
                format!(
                    "simulated tenant (seed {}, {} users)",
                    flags.sim_seed, flags.sim_users
                ),
            )
        };
        let sim = CoupaSim::start_with(tenant, options).await;
        let config = coupa_client::Config::with_base_url(
            &sim.uri(),
            sim.client_id(),
            SecretString::from(sim.client_secret()),
        )
        .unwrap_or_else(|e| unreachable!("the simulator's own URL is valid: {e}"));
        let default_rate = if flags.sim_rate_limit { 25 } else { 0 };
        let config = config.with_rate_limit(Some(self.rate_limit.unwrap_or(default_rate)));
        Ok(Target {
            config,
            sim: Some(sim),
            tenant: Some(name),
        })
    }

    /// Without the `sim` feature there is no simulator to start.
    #[cfg(not(feature = "sim"))]
    async fn start_simulator(&self) -> Result<Target, CliError> {
        Err(CliError::usage(NO_TENANT))
    }
}

/// A Coupa id from the command line: a positive integer written canonically (`+7` and `007`
/// are refused, so the id echoed is the id given).
pub fn coupa_id(text: &str, what: &str) -> Result<i64, CliError> {
    coupa_connector::ids::canonical_id(text).ok_or_else(|| {
        CliError::usage(format!(
            "{what} id {text:?} is not a positive integer (digits only, no sign or leading zero)"
        ))
    })
}

/// An error and its sources on one line.
pub fn one_line(error: &dyn std::error::Error) -> String {
    connector_sdk::error_chain(error)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn non_utf8_environment_values_are_usage_errors() {
        use std::os::unix::ffi::OsStringExt;
        let value = OsString::from_vec(vec![0x66, 0x6f, 0x80]);
        let error = read_env("COUPA_CLIENT_ID", Some(value)).unwrap_err();
        assert_eq!(
            (error.exit_code(), error.chain().as_str()),
            (2, "COUPA_CLIENT_ID is not valid UTF-8")
        );
        assert_eq!(read_env("X", Some(" ".into())).unwrap(), None);
        assert_eq!(read_env("X", None).unwrap(), None);
    }

    /// The simulator's flags exist only with the `sim` feature (the container image is built
    /// without it: `--sim` is then an unknown flag, not a way to act on a fake tenant).
    #[test]
    fn the_simulator_flags_follow_the_sim_feature() {
        use clap::Args;
        let command = TenantArgs::augment_args(clap::Command::new("coupa"));
        let longs: Vec<&str> = command
            .get_arguments()
            .filter_map(|a| a.get_long())
            .collect();
        for flag in ["sim", "sim-fixture", "sim-users"] {
            assert_eq!(longs.contains(&flag), cfg!(feature = "sim"), "--{flag}");
        }
        assert_eq!(NO_TENANT.contains("--sim"), cfg!(feature = "sim"));
    }

    #[test]
    fn ids_are_canonical() {
        assert_eq!(coupa_id("42", "user").unwrap(), 42);
        for bad in ["+7", "007", "-1", "0", "abc", "", "99999999999999999999"] {
            assert!(coupa_id(bad, "user").unwrap_err().is_usage(), "{bad:?}");
        }
    }
}
