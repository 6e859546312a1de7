//! [`CoupaSim`]: the simulated tenant served by a wiremock `MockServer`.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use crate::handlers;
use crate::options::{CLIENT_ID, CLIENT_SECRET, Fault, FaultKind, SimOptions};
use crate::state::{ArmedFault, LoggedRequest, State};
use crate::tenant::Tenant;

/// Priority of the simulator's own mock: lower than wiremock's default (5), so a test's own mocks
/// on the same server win.
const SIM_PRIORITY: u8 = 10;

/// A reply before it becomes a wiremock response.
#[derive(Debug)]
pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) body: Option<Value>,
    pub(crate) headers: Vec<(&'static str, String)>,
}

impl Reply {
    pub(crate) fn json(status: u16, body: Value) -> Self {
        Self {
            status,
            body: Some(body),
            headers: Vec::new(),
        }
    }

    pub(crate) fn empty(status: u16) -> Self {
        Self {
            status,
            body: None,
            headers: Vec::new(),
        }
    }

    /// `{"errors":{key:[messages]}}`, Coupa's validation shape.
    pub(crate) fn errors(status: u16, key: &str, messages: Vec<String>) -> Self {
        Self::json(status, json!({ "errors": { key: messages } }))
    }
}

/// A simulated Coupa tenant on a real HTTP server on loopback.
///
/// ```no_run
/// # async fn t() {
/// use coupa_sim::{CoupaSim, Tenant};
/// let sim = CoupaSim::start(Tenant::fixture()).await;
/// let base_url = sim.uri(); // point a client here, with sim.client_id() / sim.client_secret()
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct CoupaSim {
    server: Arc<MockServer>,
    state: Arc<Mutex<State>>,
}

struct Router {
    state: Arc<Mutex<State>>,
}

impl Respond for Router {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let method = request.method.as_str().to_owned();
        let path = request.url.path().to_owned();
        let query: Vec<(String, String)> = request
            .url
            .query_pairs()
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        let mut state = match self.state.lock() {
            Ok(state) => state,
            Err(poisoned) => poisoned.into_inner(),
        };
        let latency = state.options.latency;
        let fault = state.take_fault(&method, &path);
        let (reply, fault) = match fault {
            Some(Fault {
                kind: FaultKind::Status(status),
                ..
            }) => (
                Reply::errors(status, "base", vec!["simulated failure".into()]),
                None,
            ),
            other => {
                let reply = match state.admit(Instant::now()) {
                    Some(wait) => {
                        let mut reply = Reply::empty(429);
                        if state.options.rate_limit.is_some_and(|l| l.retry_after) {
                            reply
                                .headers
                                .push(("retry-after", format!("{}", wait.ceil().max(1.0))));
                        }
                        reply
                    }
                    None => handlers::route(&mut state, request, &method, &path, &query),
                };
                (reply, other.map(|f| f.kind))
            }
        };
        state.log.push(LoggedRequest {
            method,
            path,
            query,
            status: reply.status,
        });
        drop(state);
        render(reply, fault, latency)
    }
}

fn render(reply: Reply, fault: Option<FaultKind>, latency: Duration) -> ResponseTemplate {
    let mut template = ResponseTemplate::new(reply.status);
    for (name, value) in &reply.headers {
        template = template.insert_header(*name, value.as_str());
    }
    let body = reply.body.map(|b| b.to_string());
    let mut delay = latency;
    template = match (fault, body) {
        (Some(FaultKind::InvalidJson), _) => template.set_body_raw(
            "<html><body>Service Unavailable</body></html>",
            "application/json",
        ),
        (Some(FaultKind::TruncatedJson), Some(body)) => {
            let mut cut = body.len() / 2;
            while !body.is_char_boundary(cut) {
                cut -= 1;
            }
            template.set_body_raw(body[..cut].to_owned(), "application/json")
        }
        (Some(FaultKind::DropConnection), body) => {
            // Announce more bytes than are sent: the server closes the connection mid-body.
            let body = body.unwrap_or_default();
            template
                .set_body_raw(body.clone(), "application/json")
                .insert_header("content-length", (body.len() + 1000).to_string())
        }
        (fault, Some(body)) => {
            if let Some(FaultKind::Delay(extra)) = fault {
                delay += extra;
            }
            template.set_body_raw(body, "application/json")
        }
        (_, None) => template,
    };
    if delay > Duration::ZERO {
        template = template.set_delay(delay);
    }
    template
}

impl CoupaSim {
    /// Starts a simulator for `tenant` with default options.
    pub async fn start(tenant: Tenant) -> Self {
        Self::start_with(tenant, SimOptions::default()).await
    }

    /// Starts a simulator for `tenant` with `options`.
    pub async fn start_with(tenant: Tenant, options: SimOptions) -> Self {
        let server = MockServer::start().await;
        let state = Arc::new(Mutex::new(State::new(tenant, options)));
        Mock::given(any())
            .respond_with(Router {
                state: state.clone(),
            })
            .with_priority(SIM_PRIORITY)
            .named("coupa-sim")
            .mount(&server)
            .await;
        Self {
            server: Arc::new(server),
            state,
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        match self.state.lock() {
            Ok(state) => state,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// The base URL, such as `http://127.0.0.1:40123`.
    pub fn uri(&self) -> String {
        self.server.uri()
    }

    /// The underlying wiremock server: mount your own mocks on it to stub a special case (they
    /// take precedence over the simulator).
    pub fn server(&self) -> &MockServer {
        &self.server
    }

    /// The OAuth client id the simulator accepts.
    pub fn client_id(&self) -> &'static str {
        CLIENT_ID
    }

    /// The OAuth client secret the simulator accepts.
    pub fn client_secret(&self) -> &'static str {
        CLIENT_SECRET
    }

    /// A snapshot of the tenant (after any writes).
    pub fn tenant(&self) -> Tenant {
        self.lock().tenant.clone()
    }

    /// Changes the tenant in place.
    pub fn update_tenant(&self, change: impl FnOnce(&mut Tenant)) {
        let mut state = self.lock();
        change(&mut state.tenant);
        state.changed();
    }

    /// The current options.
    pub fn options(&self) -> SimOptions {
        self.lock().options.clone()
    }

    /// Changes the options of the running simulator.
    pub fn set_options(&self, change: impl FnOnce(&mut SimOptions)) {
        change(&mut self.lock().options);
    }

    /// Arms a one-shot fault.
    pub fn inject(&self, fault: Fault) {
        self.lock().faults.push(ArmedFault { fault, seen: 0 });
    }

    /// Expires every token minted so far: the next call with one gets 401.
    pub fn expire_tokens(&self) {
        let now = Instant::now();
        for token in self.lock().tokens.values_mut() {
            token.expires_at = now;
        }
    }

    /// The scopes of every token minted so far and not yet expired or replaced, sorted.
    pub fn token_scopes(&self) -> Vec<Vec<String>> {
        let mut scopes: Vec<Vec<String>> = self
            .lock()
            .tokens
            .values()
            .map(|t| t.scopes.iter().cloned().collect())
            .collect();
        scopes.sort();
        scopes
    }

    /// Tokens minted so far.
    pub fn tokens_minted(&self) -> u64 {
        self.lock().minted
    }

    /// Every request answered so far, in order.
    pub fn requests(&self) -> Vec<LoggedRequest> {
        self.lock().log.clone()
    }

    /// Requests answered per endpoint (`GET /api/users/{id}`).
    pub fn counts(&self) -> BTreeMap<String, usize> {
        let mut counts = BTreeMap::new();
        for request in &self.lock().log {
            *counts.entry(request.endpoint()).or_insert(0) += 1;
        }
        counts
    }

    /// Requests answered with `method` on exactly `path`.
    pub fn count(&self, method: &str, path: &str) -> usize {
        self.lock()
            .log
            .iter()
            .filter(|r| r.method == method && r.path == path)
            .count()
    }

    /// Forgets the request log.
    pub fn clear_log(&self) {
        self.lock().log.clear();
    }
}
