//! What the Coupa example programs share: where the tenant is (real or simulated), and how a
//! failure is printed.

use std::time::Duration;

use coupa_sim::{CoupaSim, RateLimit, SimOptions, Sizes, Tenant};
use secrecy::SecretString;

/// Where to find the tenant, from flags and the environment. The client secret is only ever
/// read from `COUPA_CLIENT_SECRET`, never from a flag.
#[derive(Debug, Clone, clap::Args)]
pub struct TenantArgs {
    /// Tenant domain (`acme` or `acme.coupahost.com`) [env: COUPA_DOMAIN]
    #[arg(long)]
    pub domain: Option<String>,
    /// Explicit base URL (sandbox, proxy, simulator) [env: COUPA_BASE_URL]
    #[arg(long)]
    pub base_url: Option<String>,
    /// OAuth client id [env: COUPA_CLIENT_ID]
    #[arg(long)]
    pub client_id: Option<String>,
    /// Space-separated OAuth scopes [env: COUPA_SCOPES]
    #[arg(long)]
    pub scopes: Option<String>,
    /// Client-side rate limit in requests per second; 0 turns it off. Default: 20 (Coupa allows
    /// about 25), or off against a simulated tenant without `--sim-rate-limit`.
    #[arg(long)]
    pub rate_limit: Option<u32>,
    /// Users in the simulated tenant used when no credentials are set.
    #[arg(long, default_value_t = 5_000)]
    pub sim_users: usize,
    /// Use the small hand-written simulated tenant (users 1 ada, 2 grace, 3 alan; groups 10-12;
    /// roles 1-3; account groups 20-21; content groups 30-31) instead of a generated one.
    #[arg(long)]
    pub sim_fixture: bool,
    /// Seed of the simulated tenant.
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
    /// The simulator, when no credentials were set.
    pub sim: Option<CoupaSim>,
}

impl TenantArgs {
    /// Resolves the tenant: flags over environment; with no credentials at all, a simulated
    /// tenant on loopback.
    pub async fn resolve(&self) -> Result<Target, String> {
        let env = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        let domain = self.domain.clone().or_else(|| env("COUPA_DOMAIN"));
        let base_url = self.base_url.clone().or_else(|| env("COUPA_BASE_URL"));
        let client_id = self.client_id.clone().or_else(|| env("COUPA_CLIENT_ID"));
        let secret = env("COUPA_CLIENT_SECRET");
        let scopes = self.scopes.clone().or_else(|| env("COUPA_SCOPES"));
        let anything = domain.is_some() || client_id.is_some() || secret.is_some();
        if !anything {
            let mut target = self.simulated(base_url).await;
            let default = if self.sim_rate_limit { 20 } else { 0 };
            target.config = target
                .config
                .rate_limit(Some(self.rate_limit.unwrap_or(default)));
            return Ok(target);
        }
        let client_id = client_id.ok_or("COUPA_CLIENT_ID (or --client-id) is not set")?;
        let secret = SecretString::from(secret.ok_or("COUPA_CLIENT_SECRET is not set")?);
        let config = match (base_url, domain) {
            (Some(url), _) => coupa_client::Config::with_base_url(&url, client_id, secret),
            (None, Some(domain)) => coupa_client::Config::new(&domain, client_id, secret),
            (None, None) => return Err("COUPA_DOMAIN (or --domain, --base-url) is not set".into()),
        }
        .map_err(|e| e.to_string())?;
        let config = match scopes {
            Some(s) => config.scopes(s.split_whitespace()),
            None => config,
        };
        let config = match self.rate_limit {
            Some(rate) => config.rate_limit(Some(rate)),
            None => config,
        };
        Ok(Target { config, sim: None })
    }

    async fn simulated(&self, base_url: Option<String>) -> Target {
        let mut options = SimOptions::default().latency(Duration::from_millis(self.sim_latency_ms));
        if self.sim_rate_limit {
            options = options.rate_limit(Some(RateLimit::default()));
        }
        let tenant = if self.sim_fixture {
            Tenant::fixture()
        } else {
            Tenant::generate(self.sim_seed, Sizes::users(self.sim_users))
        };
        let sim = CoupaSim::start_with(tenant, options).await;
        let url = base_url.unwrap_or_else(|| sim.uri());
        let config = coupa_client::Config::with_base_url(
            &url,
            sim.client_id(),
            SecretString::from(sim.client_secret()),
        )
        .unwrap_or_else(|e| unreachable!("the simulator's URL is valid: {e}"));
        Target {
            config,
            sim: Some(sim),
        }
    }
}

/// An error and its sources on one line.
pub fn one_line(error: &dyn std::error::Error) -> String {
    let mut line = error.to_string();
    let mut source = error.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !line.contains(&text) {
            line.push_str(": ");
            line.push_str(&text);
        }
        source = s.source();
    }
    line
}
