//! What the task loop and every task share: the client, the registration, the store, the
//! configuration, the counters; and the backoff and pause both use. Its own module, so the
//! loop (`runner`) and the tasks (`tasks`) both depend on it and not on each other.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use connector_sdk::Registry;
use connector_sdk::backend::WorkQueue;
use tokio_util::sync::CancellationToken;

use crate::client::Client;
use crate::stats::TaskStats;
use crate::token::Tokens;
use crate::{Config, Error};

/// What every task shares.
pub(crate) struct Shared {
    pub(crate) client: Client,
    pub(crate) registry: Registry,
    pub(crate) store: Arc<dyn WorkQueue>,
    pub(crate) config: Config,
    pub(crate) stats: Arc<TaskStats>,
    pub(crate) actions: ActionResults,
}

impl Shared {
    pub(crate) fn new(
        registry: Registry,
        store: Arc<dyn WorkQueue>,
        config: Config,
    ) -> Result<Self, Error> {
        let host = config.api_host().to_owned();
        let transport = |what: &'static str, source: connector_sdk::BoxError| Error::Transport {
            host: host.clone(),
            what,
            source,
        };
        // No redirect is followed: the client assertion goes to the token endpoint only.
        let mut http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(format!(
                "baton-c1-credential-provider {}/{}",
                env!("CARGO_PKG_NAME"),
                env!("CARGO_PKG_VERSION")
            ))
            .connect_timeout(Duration::from_secs(30))
            .timeout(Duration::from_secs(30));
        let mut roots = Vec::new();
        if let Some(pem) = &config.ca_bundle_pem {
            let certificates = reqwest::Certificate::from_pem_bundle(pem)
                .map_err(|e| transport("the CA bundle is not PEM", Box::new(e)))?;
            for certificate in certificates {
                http = http.add_root_certificate(certificate);
            }
            roots.push(pem.clone());
        }
        let http = http
            .build()
            .map_err(|e| transport("the token endpoint's client", Box::new(e)))?;
        let tokens = Tokens::new(http, &host, config.client_id.clone(), config.secret.clone());
        let user_agent = format!(
            "{} {}/{}",
            config.client_id.name(),
            env!("CARGO_PKG_NAME"),
            env!("CARGO_PKG_VERSION")
        );
        let deadlines = crate::client::Deadlines {
            call: config.call_deadline,
            stall: config.upload_stall,
        };
        let client = Client::new(&host, &roots, &user_agent, tokens, deadlines)
            .map_err(|e| transport("the gRPC channel", Box::new(e)))?;
        let stats = TaskStats::new(config.liveness_bound, config.call_deadline);
        Ok(Self {
            client,
            registry,
            store,
            config,
            stats: Arc::new(stats),
            actions: ActionResults::default(),
        })
    }
}

/// Capped exponential backoff with jitter, on the SDK's one schedule
/// ([`connector_sdk::RetryPolicy::jittered_backoff`]): each delay is a random point in the upper
/// half of `base * 2^n`, at most `cap`.
pub(crate) struct Backoff {
    policy: connector_sdk::RetryPolicy,
    step: u32,
}

impl Backoff {
    pub(crate) fn new(base: Duration, cap: Duration) -> Self {
        Self {
            policy: connector_sdk::RetryPolicy::default().with_backoff(base, cap),
            step: 0,
        }
    }

    pub(crate) fn next_delay(&mut self) -> Duration {
        self.step = self.step.saturating_add(1).min(32);
        self.policy
            .jittered_backoff(self.step, rand::random::<f64>())
    }

    pub(crate) fn reset(&mut self) {
        self.step = 0;
    }
}

/// Sleeps `wait`; false when `stop` came first.
pub(crate) async fn pause(wait: Duration, stop: &CancellationToken) -> bool {
    tokio::select! {
        () = stop.cancelled() => false,
        () = tokio::time::sleep(wait) => true,
    }
}

/// The outcomes of recent action invocations, for `action_status` (the newest 256).
#[derive(Default)]
pub(crate) struct ActionResults(Mutex<VecDeque<(String, String, Vec<u8>)>>);

impl ActionResults {
    pub(crate) fn keep(&self, id: String, name: String, response: Vec<u8>) {
        let mut kept = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if kept.len() == 256 {
            kept.pop_front();
        }
        kept.push_back((id, name, response));
    }

    pub(crate) fn find(&self, id: &str) -> Option<(String, Vec<u8>)> {
        let kept = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        kept.iter()
            .find(|(kept_id, _, _)| kept_id == id)
            .map(|(_, name, response)| (name.clone(), response.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_to_its_cap_in_the_upper_half_and_resets() {
        let s = Duration::from_secs;
        let mut backoff = Backoff::new(s(1), s(8));
        for full in [1, 2, 4, 8, 8, 8] {
            let delay = backoff.next_delay();
            assert!(
                delay >= s(full) / 2 && delay <= s(full),
                "{delay:?} outside [{full}/2, {full}] s"
            );
        }
        backoff.reset();
        assert!(backoff.next_delay() <= s(1));
    }
}
