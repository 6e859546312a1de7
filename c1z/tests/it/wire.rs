//! The blobs, decoded by a small protobuf wire-format parser written here (not the writer's own
//! types), and the bytes they must hold.

/// One field of a protobuf message.
#[derive(Debug, Clone, PartialEq)]
enum Field {
    Varint(u64),
    Fixed64([u8; 8]),
    Bytes(Vec<u8>),
    Fixed32([u8; 4]),
}

fn varint(bytes: &[u8], at: &mut usize) -> u64 {
    let mut value = 0u64;
    let mut shift = 0;
    loop {
        let b = bytes[*at];
        *at += 1;
        value |= u64::from(b & 0x7F) << shift;
        if b & 0x80 == 0 {
            return value;
        }
        shift += 7;
    }
}

/// Parses a message into (field number, field) pairs, in wire order.
fn parse(bytes: &[u8]) -> Vec<(u64, Field)> {
    let mut at = 0;
    let mut out = Vec::new();
    while at < bytes.len() {
        let key = varint(bytes, &mut at);
        let (number, wire) = (key >> 3, key & 7);
        let field = match wire {
            0 => Field::Varint(varint(bytes, &mut at)),
            1 => {
                let f = bytes[at..at + 8].try_into().unwrap();
                at += 8;
                Field::Fixed64(f)
            }
            2 => {
                let len = varint(bytes, &mut at) as usize;
                let f = bytes[at..at + len].to_vec();
                at += len;
                Field::Bytes(f)
            }
            5 => {
                let f = bytes[at..at + 4].try_into().unwrap();
                at += 4;
                Field::Fixed32(f)
            }
            other => panic!("wire type {other}"),
        };
        out.push((number, field));
    }
    out
}

fn bytes_of(fields: &[(u64, Field)], number: u64) -> Vec<Vec<u8>> {
    fields
        .iter()
        .filter(|(n, _)| *n == number)
        .map(|(_, f)| match f {
            Field::Bytes(b) => b.clone(),
            other => panic!("field {number} is {other:?}"),
        })
        .collect()
}

fn text(fields: &[(u64, Field)], number: u64) -> String {
    String::from_utf8(bytes_of(fields, number).remove(0)).unwrap()
}

fn numbers(fields: &[(u64, Field)]) -> Vec<u64> {
    fields.iter().map(|(n, _)| *n).collect()
}

fn ascending(fields: &[(u64, Field)]) -> bool {
    numbers(fields).windows(2).all(|w| w[0] <= w[1])
}

#[tokio::test(flavor = "multi_thread")]
async fn blobs_hold_batons_fields_in_tag_order() {
    let (store, run) = crate::fixture().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("w.c1z");
    c1z::Writer::new()
        .write(store.as_ref(), run, &path)
        .unwrap();
    let (_, _db, conn) = crate::open(&path);
    let blob = |sql: &str| -> Vec<u8> { conn.query_row(sql, [], |r| r.get(0)).unwrap() };

    // The user resource type: 0A 04 "user" 12 04 "User" 1A 01 01 (packed USER trait).
    let user_type = blob("SELECT data FROM v1_resource_types WHERE external_id = 'user'");
    assert_eq!(
        user_type,
        [
            &[0x0A, 0x04][..],
            b"user",
            &[0x12, 0x04],
            b"User",
            &[0x1A, 0x01, 0x01]
        ]
        .concat()
    );

    // A user: id {user, 1}, display name, a UserTrait Any, creation source 1, status ENABLED.
    let user = parse(&blob(
        "SELECT data FROM v1_resources WHERE external_id = 'user:1'",
    ));
    assert!(ascending(&user), "{:?}", numbers(&user));
    let id = parse(&bytes_of(&user, 1)[0]);
    assert_eq!((text(&id, 1), text(&id, 2)), ("user".into(), "1".into()));
    assert_eq!(text(&user, 3), "User 1");
    let any = parse(&bytes_of(&user, 4)[0]);
    assert_eq!(
        text(&any, 1),
        "type.googleapis.com/c1.connector.v2.UserTrait"
    );
    let trait_ = parse(&bytes_of(&any, 2)[0]);
    assert!(ascending(&trait_));
    let email = parse(&bytes_of(&trait_, 1)[0]);
    assert_eq!(text(&email, 1), "u1@example.com");
    assert!(email.contains(&(2, Field::Varint(1))), "is_primary");
    assert!(
        trait_.contains(&(5, Field::Varint(1))),
        "account type HUMAN"
    );
    assert_eq!(text(&trait_, 6), "u1", "login");
    assert!(
        user.contains(&(8, Field::Varint(1))),
        "creation_source LIST_RESOURCES"
    );
    assert_eq!(
        parse(&bytes_of(&user, 11)[0]),
        [(1, Field::Varint(1))],
        "ENABLED"
    );
    // The profile Struct's map entries are sorted by key.
    let profile = parse(&bytes_of(&user, 9)[0]);
    let keys: Vec<String> = bytes_of(&profile, 1)
        .iter()
        .map(|entry| text(&parse(entry), 1))
        .collect();
    assert_eq!(keys, ["department", "seniority", "title"]);

    // A group carries an empty GroupTrait Any: its type_url and nothing else.
    let group = parse(&blob(
        "SELECT data FROM v1_resources WHERE external_id = 'group:1'",
    ));
    let any = parse(&bytes_of(&group, 4)[0]);
    assert_eq!(any.len(), 1, "{any:?}");
    assert_eq!(
        text(&any, 1),
        "type.googleapis.com/c1.connector.v2.GroupTrait"
    );

    // An entitlement: full resource copy, id, display name, grantable to the full user type,
    // purpose ASSIGNMENT, slug.
    let entitlement = parse(&blob(
        "SELECT data FROM v1_entitlements WHERE external_id = 'group:1:member'",
    ));
    assert!(ascending(&entitlement));
    let resource = parse(&bytes_of(&entitlement, 1)[0]);
    assert_eq!(text(&parse(&bytes_of(&resource, 1)[0]), 2), "1");
    assert_eq!(text(&resource, 3), "Group 1");
    assert_eq!(text(&entitlement, 2), "group:1:member");
    assert_eq!(
        bytes_of(&entitlement, 5)[0],
        user_type,
        "the full user resource type"
    );
    assert!(entitlement.contains(&(7, Field::Varint(1))));
    assert_eq!(text(&entitlement, 8), "member");

    // A grant: entitlement {resource (full), id}, principal {id}, id.
    let grant = parse(&blob(
        "SELECT data FROM v1_grants WHERE external_id = 'group:1:member:user:2'",
    ));
    assert_eq!(numbers(&grant), [1, 2, 3]);
    let e = parse(&bytes_of(&grant, 1)[0]);
    assert_eq!(numbers(&e), [1, 2]);
    assert_eq!(
        parse(&bytes_of(&e, 1)[0]),
        resource,
        "the same full resource copy"
    );
    assert_eq!(text(&e, 2), "group:1:member");
    let principal = parse(&bytes_of(&grant, 2)[0]);
    assert_eq!(numbers(&principal), [1], "the principal is its id alone");
    let pid = parse(&bytes_of(&principal, 1)[0]);
    assert_eq!((text(&pid, 1), text(&pid, 2)), ("user".into(), "2".into()));
    assert_eq!(text(&grant, 3), "group:1:member:user:2");
}
