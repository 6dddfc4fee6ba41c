use super::*;

#[test]
fn precedence_and_binds_tighter_than_or() {
    let e = parse("Host(`a`) || Host(`b`) && Path(`/x`)").unwrap();
    assert_eq!(e.to_string(), "(Host(`a`) || (Host(`b`) && Path(`/x`)))");
}

#[test]
fn not_and_parentheses() {
    let e = parse("!(Host(`a`) || Method(`get`)) && PathPrefix(`/p`)").unwrap();
    assert_eq!(
        e.to_string(),
        "(!((Host(`a`) || Method(`GET`))) && PathPrefix(`/p`))"
    );
}

#[test]
fn double_quoted_values() {
    let e = parse(r#"Host("a.test") && Header("X-A", "q\"uote")"#).unwrap();
    assert_eq!(
        e.to_string(),
        "(Host(`a.test`) && Header(`X-A`, `q\"uote`))"
    );
}

#[test]
fn errors_point_at_the_column() {
    let cases: &[(&str, &str, usize)] = &[
        ("Host('x')", "single quotes", 6),
        ("Host(`a`,`b`)", "`Host` takes 1 argument(s), got 2", 1),
        ("Host(`a`) && Hots(`b`)", "unknown matcher `Hots`", 14),
        ("Host(`a`) & Path(`/`)", "unexpected `&`", 11),
        ("Host(`a`", "missing `)`", 9),
        ("Host(`a`) Path(`/`)", "unexpected `Path`", 11),
        ("Path(`x`)", "must start with `/`", 1),
        ("PathRegexp(`(`)", "invalid regular expression", 1),
        ("ClientIP(`10.0.0.300`)", "neither an IP", 1),
        ("", "empty", 1),
        ("Host(`ü.test`)", "not ASCII", 1),
        ("Host(a.test)", "is not quoted", 6),
        ("(Host(`a`)", "missing `)`", 11),
        ("Host(`a`) &&", "ends where a matcher was expected", 13),
        ("Header(`X`)", "takes 2 argument(s), got 1", 1),
    ];
    for (rule, msg, col) in cases {
        let err = parse(rule).expect_err(rule);
        assert!(
            err.message.contains(msg),
            "{rule}: {:?} does not contain {msg:?}",
            err.message
        );
        assert_eq!(err.column, *col, "{rule}: {err}");
    }
}

#[test]
fn hints_suggest_fixes() {
    let err = parse("Hots(`a`)").unwrap_err();
    assert_eq!(err.hint.as_deref(), Some("did you mean `Host`?"));
    let err = parse("Host(`a`, `b`)").unwrap_err();
    assert!(err.hint.unwrap().contains("||"));
}
