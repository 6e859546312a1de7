use std::time::{Duration, Instant};

use coupa_sim::{CoupaSim, Fault, FaultKind, RateLimit, SimOptions, Tenant};
use serde_json::json;

use crate::{READ_WRITE, get, token};

#[tokio::test]
async fn the_leaky_bucket_answers_429_until_it_drains() {
    let limit = RateLimit::new(25.0, 20);
    let sim = CoupaSim::start_with(
        Tenant::fixture(),
        SimOptions::default().with_rate_limit(Some(limit)),
    )
    .await;
    let t = token(&sim, READ_WRITE).await;
    let started = Instant::now();
    let mut statuses = Vec::new();
    for _ in 0..25 {
        statuses.push(get(&sim, &t, "/api/roles", &[]).await.status);
    }
    // Only a burst of 20 fits (the token request took one place); a few more drain in meanwhile.
    let ok = statuses.iter().filter(|s| **s == 200).count();
    let limited = statuses.iter().filter(|s| **s == 429).count();
    let drained = (started.elapsed().as_secs_f64() * 25.0).ceil() as usize;
    assert!(limited >= 1, "{statuses:?}");
    assert!(
        ok <= 19 + drained,
        "{ok} admitted in {:?}",
        started.elapsed()
    );
    let last = sim
        .requests()
        .into_iter()
        .rev()
        .find(|r| r.status == 429)
        .unwrap();
    assert_eq!(last.path, "/api/roles");
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(
        get(&sim, &t, "/api/roles", &[]).await.status,
        200,
        "drained"
    );

    // Without Retry-After.
    let limit = RateLimit::new(1.0, 1).with_retry_after(false);
    let sim = CoupaSim::start_with(
        Tenant::fixture(),
        SimOptions::default().with_rate_limit(Some(limit)),
    )
    .await;
    let http = crate::http();
    http.get(format!("{}/api/roles", sim.uri()))
        .send()
        .await
        .unwrap();
    let limited = http
        .get(format!("{}/api/roles", sim.uri()))
        .send()
        .await
        .unwrap();
    assert_eq!(limited.status(), 429);
    assert!(limited.headers().get("retry-after").is_none());
    sim.set_options(|o| o.rate_limit = Some(limit.with_retry_after(true)));
    let limited = http
        .get(format!("{}/api/roles", sim.uri()))
        .send()
        .await
        .unwrap();
    assert_eq!(limited.headers().get("retry-after").unwrap(), "1");
}

#[tokio::test]
async fn scripted_faults_hit_the_nth_matching_request_once() {
    let sim = CoupaSim::start(Tenant::fixture()).await;
    let t = token(&sim, READ_WRITE).await;
    sim.inject(Fault::nth("GET", "/api/users", 2, FaultKind::Status(500)));
    sim.inject(Fault::nth("GET", "/api/roles", 1, FaultKind::Status(503)));
    assert_eq!(get(&sim, &t, "/api/users", &[]).await.status, 200);
    let failed = get(&sim, &t, "/api/users", &[]).await;
    assert_eq!(failed.status, 500);
    assert_eq!(
        failed.json(),
        json!({"errors": {"base": ["simulated failure"]}})
    );
    assert_eq!(
        get(&sim, &t, "/api/users", &[]).await.status,
        200,
        "one shot"
    );
    assert_eq!(get(&sim, &t, "/api/roles", &[]).await.status, 503);

    sim.inject(Fault::nth("GET", "/api/users/*", 1, FaultKind::InvalidJson));
    let invalid = get(&sim, &t, "/api/users/1", &[]).await;
    assert_eq!(invalid.status, 200);
    assert!(serde_json::from_str::<serde_json::Value>(&invalid.text).is_err());

    sim.inject(Fault::nth("GET", "/api/users", 1, FaultKind::TruncatedJson));
    let truncated = get(&sim, &t, "/api/users", &[]).await;
    let whole = get(&sim, &t, "/api/users", &[]).await;
    assert_eq!(truncated.status, 200);
    assert_eq!(truncated.text.len(), whole.text.len() / 2);
    assert!(whole.text.starts_with(&truncated.text));
    assert!(serde_json::from_str::<serde_json::Value>(&truncated.text).is_err());

    sim.inject(Fault::nth(
        "GET",
        "/api/users",
        1,
        FaultKind::DropConnection,
    ));
    let dropped = crate::http()
        .get(format!("{}/api/users", sim.uri()))
        .bearer_auth(&t)
        .send()
        .await;
    let body = match dropped {
        Ok(response) => response.text().await,
        Err(e) => Err(e),
    };
    assert!(body.is_err(), "the body must not arrive whole: {body:?}");

    sim.inject(Fault::nth(
        "GET",
        "/api/users/2",
        1,
        FaultKind::Delay(Duration::from_millis(300)),
    ));
    let started = Instant::now();
    assert_eq!(get(&sim, &t, "/api/users/2", &[]).await.status, 200);
    assert!(started.elapsed() >= Duration::from_millis(300));
}

#[tokio::test]
async fn a_chosen_put_fails_and_leaves_the_tenant_unchanged() {
    let sim = CoupaSim::start(Tenant::fixture()).await;
    let t = token(&sim, READ_WRITE).await;
    sim.inject(Fault::nth("PUT", "/api/users/1", 2, FaultKind::Status(500)));
    let put = |body| {
        crate::call(
            &sim,
            reqwest::Method::PUT,
            Some(&t),
            "/api/users/1",
            &[],
            Some(body),
        )
    };
    assert_eq!(put(json!({"roles": []})).await.status, 200);
    assert_eq!(put(json!({"roles": [{"id": 2}]})).await.status, 500);
    assert!(
        sim.tenant().users[&1].roles.is_empty(),
        "step two never applied"
    );
}

#[tokio::test]
async fn latency_applies_to_every_response() {
    let options = SimOptions::default().with_latency(Duration::from_millis(100));
    let sim = CoupaSim::start_with(Tenant::fixture(), options).await;
    let started = Instant::now();
    let t = token(&sim, READ_WRITE).await;
    get(&sim, &t, "/api/users", &[]).await;
    assert!(started.elapsed() >= Duration::from_millis(200));
}

#[tokio::test]
async fn own_mocks_take_precedence() {
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, ResponseTemplate};
    let sim = CoupaSim::start(Tenant::fixture()).await;
    Mock::given(method("GET"))
        .and(path("/api/users/3"))
        .respond_with(ResponseTemplate::new(418))
        .mount(sim.server())
        .await;
    let t = token(&sim, READ_WRITE).await;
    assert_eq!(get(&sim, &t, "/api/users/3", &[]).await.status, 418);
    assert_eq!(get(&sim, &t, "/api/users/2", &[]).await.status, 200);
}

#[tokio::test]
async fn tenant_generation_is_deterministic_over_http() {
    let a = CoupaSim::start(Tenant::generate(42, coupa_sim::Sizes::users(80))).await;
    let b = CoupaSim::start(Tenant::generate(42, coupa_sim::Sizes::users(80))).await;
    let (ta, tb) = (token(&a, READ_WRITE).await, token(&b, READ_WRITE).await);
    for offset in ["0", "50"] {
        let pa = get(&a, &ta, "/api/users", &[("offset", offset)]).await.text;
        let pb = get(&b, &tb, "/api/users", &[("offset", offset)]).await.text;
        assert_eq!(pa, pb);
    }
}
