//! The GraphQL contract the conference front end was written against
//! (the API in the README and docs/api.md) is served as is: every type and field, same
//! names, same types. Fields may be added, never renamed or removed.

use likes::graphql::sdl;

/// The block of `type`/`input` `name` in the SDL, with fields one per line
/// (descriptions left out, arguments written on the field's line).
fn block(sdl: &str, keyword: &str, name: &str) -> Vec<String> {
    let start = format!("{keyword} {name} {{");
    let body = sdl
        .split(&start)
        .nth(1)
        .unwrap_or_else(|| panic!("no {keyword} {name} in\n{sdl}"));
    let body = &body[..body.find('}').unwrap()];
    let mut fields: Vec<String> = Vec::new();
    let mut open = false;
    let mut in_description = false;
    for line in body.lines().map(str::trim) {
        if line == "\"\"\"" {
            in_description = !in_description;
            continue;
        }
        if in_description || line.is_empty() || line.starts_with('"') {
            continue;
        }
        match fields.last_mut() {
            Some(field) if open => {
                let joiner = if field.ends_with('(') || line.starts_with(')') {
                    ""
                } else {
                    ", "
                };
                field.push_str(joiner);
                field.push_str(line.trim_end_matches(','));
            }
            _ => fields.push(line.to_owned()),
        }
        open = fields
            .last()
            .is_some_and(|field| field.contains('(') && !field.contains(')'));
    }
    fields
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
            // `since` came later; it is optional, so the old call is valid.
            &["likeAdded(sessionId: Int!, since: Int): LikeEvent!"],
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
