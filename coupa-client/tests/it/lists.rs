use coupa_client::Fields;
use futures::TryStreamExt;
use serde_json::json;
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::{client, query, seen, token_endpoint};

fn users(ids: std::ops::RangeInclusive<i64>) -> serde_json::Value {
    json!(
        ids.map(|id| json!({"id": id, "login": format!("u{id}")}))
            .collect::<Vec<_>>()
    )
}

#[tokio::test]
async fn offset_paging_sends_exact_offsets_and_fields_and_stops_on_a_short_page() {
    let server = MockServer::start().await;
    token_endpoint(&server, 86399).await;
    for (offset, ids) in [("0", 1..=50), ("50", 51..=100), ("100", 101..=120)] {
        Mock::given(method("GET"))
            .and(path("/api/users"))
            .and(query_param("offset", offset))
            .respond_with(ResponseTemplate::new(200).set_body_json(users(ids)))
            .expect(1)
            .mount(&server)
            .await;
    }
    let fields = Fields::of(["id", "login"]).nested("roles", Fields::of(["id", "name"]));
    let pages: Vec<Vec<coupa_client::User>> = client(&server)
        .users()
        .active(true)
        .fields(fields)
        .offset(0)
        .pages()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(pages.iter().map(Vec::len).collect::<Vec<_>>(), [50, 50, 20]);
    let requests = seen(&server, "/api/users").await;
    let queries: Vec<Vec<(String, String)>> = requests.iter().map(query).collect();
    let expected = |offset: &str| {
        vec![
            ("status".to_owned(), "active".to_owned()),
            ("limit".to_owned(), "50".to_owned()),
            ("offset".to_owned(), offset.to_owned()),
            (
                "fields".to_owned(),
                r#"["id","login",{"roles":["id","name"]}]"#.to_owned(),
            ),
        ]
    };
    assert_eq!(queries, [expected("0"), expected("50"), expected("100")]);
    // The projection is a real, percent-encoded query parameter.
    assert!(
        requests[0].url.as_str().contains("fields=%5B%22id%22"),
        "{}",
        requests[0].url
    );
    for r in &requests {
        assert_eq!(r.headers.get("accept").unwrap(), "application/json");
        assert_eq!(r.headers.get("authorization").unwrap(), "Bearer tok-1");
    }
}

#[tokio::test]
async fn keyset_paging_uses_the_last_id() {
    let server = MockServer::start().await;
    token_endpoint(&server, 86399).await;
    Mock::given(method("GET"))
        .and(path("/api/user_groups"))
        .and(query_param("id[gt]", "60"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([{"id": 70, "name": "g70"}])))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/user_groups"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([{"id": 50}, {"id": 60}])))
        .mount(&server)
        .await;
    let pages: Vec<_> = client(&server)
        .user_groups()
        .limit(2)
        .pages()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(pages.len(), 2);
    assert_eq!(pages[1][0].name.as_deref(), Some("g70"));
    let queries: Vec<_> = seen(&server, "/api/user_groups")
        .await
        .iter()
        .map(query)
        .collect();
    assert_eq!(
        queries,
        [
            vec![("limit".to_owned(), "2".to_owned())],
            vec![
                ("id[gt]".to_owned(), "60".to_owned()),
                ("limit".to_owned(), "2".to_owned())
            ],
        ]
    );
}

#[tokio::test]
async fn a_cursor_that_does_not_move_is_an_error_not_a_loop() {
    let server = MockServer::start().await;
    token_endpoint(&server, 86399).await;
    Mock::given(method("GET"))
        .and(path("/api/roles"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([{"id": 5}, {"id": 5}])))
        .mount(&server)
        .await;
    let result: Result<Vec<_>, _> = client(&server).roles().limit(2).pages().try_collect().await;
    assert_eq!(
        result.unwrap_err().to_string(),
        "pagination of /api/roles did not advance past id 5"
    );
    assert_eq!(seen(&server, "/api/roles").await.len(), 2);
}

#[tokio::test]
async fn an_empty_list_ends_the_stream() {
    let server = MockServer::start().await;
    token_endpoint(&server, 86399).await;
    Mock::given(method("GET"))
        .and(path("/api/business_groups"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([])))
        .expect(1)
        .mount(&server)
        .await;
    let pages: Vec<_> = client(&server)
        .content_groups()
        .pages()
        .try_collect()
        .await
        .unwrap();
    assert!(pages.is_empty());
}

#[tokio::test]
async fn get_user_sends_the_projection_as_a_query_parameter_not_in_the_path() {
    let server = MockServer::start().await;
    token_endpoint(&server, 86399).await;
    Mock::given(method("GET"))
        .and(path("/api/users/5"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"id": 5, "roles": [{"id": 1}]})),
        )
        .expect(1)
        .mount(&server)
        .await;
    let user = client(&server)
        .get_user(
            5,
            Some(&Fields::of(["id"]).nested("roles", Fields::of(["id"]))),
        )
        .await
        .unwrap();
    assert_eq!(user.roles.as_ref().unwrap()[0].id, 1);
    let request = &seen(&server, "/api/users/5").await[0];
    assert_eq!(
        query(request),
        [("fields".to_owned(), r#"["id",{"roles":["id"]}]"#.to_owned())]
    );
}
