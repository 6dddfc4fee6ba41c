//! What the fuzz target checks, kept in the crate so ordinary tests can replay the corpus.

use std::net::IpAddr;

use crate::{parse, HeaderLookup, RequestView};

struct OneHeader;

impl HeaderLookup for OneHeader {
    fn any_value(&self, name: &str, pred: &mut dyn FnMut(&str) -> bool) -> bool {
        name == "x-env" && pred("prod")
    }
}

/// Parses arbitrary bytes as a rule. Must never panic; a rule that parses must compile,
/// evaluate, and survive a print/parse round trip; errors must point inside the rule.
pub fn rule(data: &[u8]) {
    let Ok(src) = std::str::from_utf8(data) else {
        return;
    };
    match parse(src) {
        Ok(expr) => {
            let compiled = expr.compile();
            let view = RequestView {
                host: "a.test",
                path: "/api/x",
                method: "GET",
                query: Some("q=1&flag"),
                headers: &OneHeader,
                client_ip: Some(IpAddr::from([127, 0, 0, 1])),
            };
            let _matched = compiled.matches(&view);
            let _hosts = expr.host_constraint();
            let printed = expr.to_string();
            if !printed.contains("``") && src.matches('`').count() % 2 == 0 && !src.contains('"') {
                let again = parse(&printed).unwrap_or_else(|e| panic!("{printed:?}: {e}"));
                assert_eq!(again, expr, "round trip of {src:?}");
            }
        }
        Err(e) => assert!(
            e.column >= 1 && e.column <= src.chars().count() + 1,
            "column {} outside {src:?}",
            e.column
        ),
    }
}

/// Parses arbitrary bytes as a circuitBreaker expression: never panics, errors point inside.
pub fn breaker(data: &[u8]) {
    let Ok(src) = std::str::from_utf8(data) else {
        return;
    };
    match crate::parse_breaker_expression(src) {
        Ok(expr) => {
            let _ = expr.eval(&mut |c: &crate::Condition| c.holds(0.5));
        }
        Err(e) => assert!(
            e.column >= 1 && e.column <= src.chars().count() + 1,
            "column {} outside {src:?}",
            e.column
        ),
    }
}
