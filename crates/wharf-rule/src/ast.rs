//! The rule AST: what a rule says, already validated (regexes compile, IPs parse).

use std::fmt;

/// One matcher call, with its arguments as written (after unquoting).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Matcher {
    Host(String),
    HostRegexp(String),
    Path(String),
    PathPrefix(String),
    PathRegexp(String),
    Method(String),
    Header(String, String),
    HeaderRegexp(String, String),
    /// `Query(k)` (value `None`: present with an empty value) or `Query(k, v)`.
    Query(String, Option<String>),
    QueryRegexp(String, String),
    ClientIP(String),
}

/// A boolean combination of leaves (rule matchers, or provider constraints).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BoolExpr<L> {
    Leaf(L),
    Not(Box<BoolExpr<L>>),
    And(Box<BoolExpr<L>>, Box<BoolExpr<L>>),
    Or(Box<BoolExpr<L>>, Box<BoolExpr<L>>),
}

/// A routing rule.
pub type Expr = BoolExpr<Matcher>;

impl<L> BoolExpr<L> {
    /// Evaluates the expression with `leaf` deciding each leaf.
    pub fn eval(&self, leaf: &mut impl FnMut(&L) -> bool) -> bool {
        match self {
            BoolExpr::Leaf(l) => leaf(l),
            BoolExpr::Not(e) => !e.eval(leaf),
            BoolExpr::And(a, b) => a.eval(leaf) && b.eval(leaf),
            BoolExpr::Or(a, b) => a.eval(leaf) || b.eval(leaf),
        }
    }
}

impl Matcher {
    /// The matcher's name as written in rules.
    pub fn name(&self) -> &'static str {
        match self {
            Matcher::Host(_) => "Host",
            Matcher::HostRegexp(_) => "HostRegexp",
            Matcher::Path(_) => "Path",
            Matcher::PathPrefix(_) => "PathPrefix",
            Matcher::PathRegexp(_) => "PathRegexp",
            Matcher::Method(_) => "Method",
            Matcher::Header(..) => "Header",
            Matcher::HeaderRegexp(..) => "HeaderRegexp",
            Matcher::Query(..) => "Query",
            Matcher::QueryRegexp(..) => "QueryRegexp",
            Matcher::ClientIP(_) => "ClientIP",
        }
    }
}

impl fmt::Display for Matcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let args: Vec<&str> = match self {
            Matcher::Host(a)
            | Matcher::HostRegexp(a)
            | Matcher::Path(a)
            | Matcher::PathPrefix(a)
            | Matcher::PathRegexp(a)
            | Matcher::Method(a)
            | Matcher::ClientIP(a)
            | Matcher::Query(a, None) => vec![a],
            Matcher::Header(a, b)
            | Matcher::HeaderRegexp(a, b)
            | Matcher::QueryRegexp(a, b)
            | Matcher::Query(a, Some(b)) => vec![a, b],
        };
        write!(f, "{}(", self.name())?;
        for (i, a) in args.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "`{a}`")?;
        }
        f.write_str(")")
    }
}

impl<L: fmt::Display> fmt::Display for BoolExpr<L> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BoolExpr::Leaf(m) => m.fmt(f),
            BoolExpr::Not(e) => write!(f, "!({e})"),
            BoolExpr::And(a, b) => write!(f, "({a} && {b})"),
            BoolExpr::Or(a, b) => write!(f, "({a} || {b})"),
        }
    }
}
