//! The declared schema in GraphQL's schema language: what GraphiQL reads,
//! what `likes schema` prints, and what apollo-compiler parses and
//! validates at start-up. Built-in types and directives, and introspection,
//! are left out, as GraphQL's printers do.

use super::types::{InputObject, InputValue, Object, SubscriptionField};
use std::fmt::Write;

/// The SDL of `objects` (the root types `Query` and `Mutation` first),
/// `subscriptions` and `inputs`.
pub(super) fn print(
    objects: &[Object],
    subscriptions: &[SubscriptionField],
    inputs: &[InputObject],
) -> String {
    let mut out = String::from(
        "schema {\n  query: Query\n  mutation: Mutation\n  subscription: Subscription\n}\n",
    );
    let mut objects = objects.iter().filter(|o| !o.name.starts_with("__"));
    for object in objects.by_ref().take(2) {
        print_object(&mut out, object);
    }
    out.push('\n');
    description(&mut out, "", "Subscriptions.");
    out.push_str("type Subscription {\n");
    for field in subscriptions {
        field_line(
            &mut out,
            field.name,
            field.description,
            field.args,
            field.ty,
        );
    }
    out.push_str("}\n");
    for object in objects {
        print_object(&mut out, object);
    }
    for input in inputs {
        out.push('\n');
        description(&mut out, "", input.description);
        let _ = writeln!(out, "input {} {{", input.name);
        for field in input.fields {
            input_value(&mut out, "  ", field);
        }
        out.push_str("}\n");
    }
    out
}

fn print_object(out: &mut String, object: &Object) {
    out.push('\n');
    description(out, "", object.description);
    let _ = writeln!(out, "type {} {{", object.name);
    for field in object.fields.iter().filter(|f| !f.name.starts_with("__")) {
        field_line(out, field.name, field.description, field.args, field.ty);
    }
    out.push_str("}\n");
}

fn field_line(out: &mut String, name: &str, about: &str, args: &[InputValue], ty: &str) {
    description(out, "  ", about);
    let _ = write!(out, "  {name}");
    if !args.is_empty() {
        out.push_str("(\n");
        for arg in args {
            input_value(out, "    ", arg);
        }
        out.push_str("  )");
    }
    let _ = writeln!(out, ": {ty}");
}

fn input_value(out: &mut String, indent: &str, value: &InputValue) {
    description(out, indent, value.description);
    let _ = write!(out, "{indent}{}: {}", value.name, value.ty);
    if let Some(default) = value.default {
        let _ = write!(out, " = {default}");
    }
    out.push('\n');
}

/// `text` as a block string, on lines of its own; nothing when empty.
fn description(out: &mut String, indent: &str, text: &str) {
    if !text.is_empty() {
        let text = text.replace("\"\"\"", "\\\"\"\"");
        let _ = write!(out, "{indent}\"\"\"\n{indent}{text}\n{indent}\"\"\"\n");
    }
}
