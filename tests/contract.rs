//! The GraphQL contract the conference front end was written against
//! (ARCHITECTURE.md) is served as is: every type and field, same names,
//! same types. Fields may be added, never renamed or removed.

use async_graphql::Schema;
use likes::graphql::{MutationRoot, QueryRoot, SubscriptionRoot};

fn sdl() -> String {
    // The SDL does not depend on the services, so none are attached here.
    Schema::build(QueryRoot, MutationRoot, SubscriptionRoot)
        .finish()
        .sdl()
}

/// The block of `type`/`input` `name` in the SDL, with fields one per line.
fn block(sdl: &str, keyword: &str, name: &str) -> Vec<String> {
    let start = format!("{keyword} {name} {{");
    let body = sdl
        .split(&start)
        .nth(1)
        .unwrap_or_else(|| panic!("no {keyword} {name} in\n{sdl}"));
    let body = &body[..body.find('}').unwrap()];
    body.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('"'))
        .map(str::to_owned)
        .collect()
}

#[test]
fn the_schema_serves_the_contract_word_for_word() {
    let sdl = sdl();
    let contract: &[(&str, &str, &[&str])] = &[
        (
            "type",
            "Mutation",
            &["createLike(input: CreateLikeInput!): CreateLikePayload"],
        ),
        (
            "type",
            "Subscription",
            &["likeAdded(sessionId: Int!): LikeEvent!"],
        ),
        (
            "input",
            "CreateLikeInput",
            &[
                "clientMutationId: String",
                "uuid: String!",
                "sessionId: Int!",
            ],
        ),
        (
            "type",
            "CreateLikePayload",
            &["clientMutationId: String", "like: Like!"],
        ),
        ("type", "Like", &["id: ID!", "session: Session!"]),
        ("type", "LikeEvent", &["sessionId: Int!", "likes: Int!"]),
        (
            "type",
            "Session",
            &[
                "id: ID!",
                "sessionId: Int!",
                "title: String!",
                "liked: Int!",
            ],
        ),
        (
            "type",
            "Query",
            &["session(sessionId: Int!): Session", "sessions: [Session!]!"],
        ),
    ];
    for (keyword, name, fields) in contract {
        let served = block(&sdl, keyword, name);
        for field in *fields {
            assert!(
                served.iter().any(|f| f == field),
                "{name}.{field} missing; served: {served:?}"
            );
        }
    }
    assert!(sdl.contains("query: Query"), "{sdl}");
    assert!(sdl.contains("mutation: Mutation"), "{sdl}");
    assert!(sdl.contains("subscription: Subscription"), "{sdl}");
}
