//! A rule compiled for the request path: regexes built, hosts and names normalized.

use std::net::IpAddr;

use ipnet::IpNet;
use regex::Regex;

use crate::ast::{Expr, Matcher};
use crate::request::{query_values, RequestView};

#[derive(Debug, Clone)]
enum HostPattern {
    /// ``Host(`*`)``: every request, with or without a host.
    Any,
    Exact(String),
    /// ``Host(`*.d.com`)``: exactly one label before `.d.com` (stored with its leading dot).
    OneLabel(String),
}

#[derive(Debug, Clone)]
enum Node {
    Host(HostPattern),
    HostRegexp(Regex),
    Path(String),
    PathPrefix(String),
    PathRegexp(Regex),
    Method(String),
    Header(String, String),
    HeaderRegexp(String, Regex),
    Query(String, Option<String>),
    QueryRegexp(String, Regex),
    ClientIP(IpNet),
    Not(Box<Node>),
    And(Box<Node>, Box<Node>),
    Or(Box<Node>, Box<Node>),
}

/// A rule ready to be evaluated many times, cheaply.
#[derive(Debug, Clone)]
pub struct CompiledRule {
    root: Node,
}

impl Expr {
    /// Compiles the rule. Parsing validated every argument, so this cannot fail.
    pub fn compile(&self) -> CompiledRule {
        CompiledRule {
            root: compile_node(self),
        }
    }
}

fn regex(re: &str) -> Regex {
    // The parser already compiled this pattern once; a failure here is a bug.
    Regex::new(re).unwrap_or_else(|e| panic!("validated regex {re:?} failed to compile: {e}"))
}

pub(crate) fn normalize_rule_host(host: &str) -> String {
    host.trim().trim_end_matches('.').to_ascii_lowercase()
}

fn compile_node(e: &Expr) -> Node {
    match e {
        Expr::Not(inner) => Node::Not(Box::new(compile_node(inner))),
        Expr::And(a, b) => Node::And(Box::new(compile_node(a)), Box::new(compile_node(b))),
        Expr::Or(a, b) => Node::Or(Box::new(compile_node(a)), Box::new(compile_node(b))),
        Expr::Leaf(m) => match m {
            Matcher::Host(h) => {
                let h = normalize_rule_host(h);
                Node::Host(if h == "*" {
                    HostPattern::Any
                } else if let Some(suffix) = h.strip_prefix('*') {
                    HostPattern::OneLabel(suffix.to_string())
                } else {
                    HostPattern::Exact(h)
                })
            }
            Matcher::HostRegexp(re) => Node::HostRegexp(regex(re)),
            Matcher::Path(p) => Node::Path(p.clone()),
            Matcher::PathPrefix(p) => Node::PathPrefix(p.clone()),
            Matcher::PathRegexp(re) => Node::PathRegexp(regex(re)),
            Matcher::Method(m) => Node::Method(m.to_ascii_uppercase()),
            Matcher::Header(k, v) => Node::Header(k.to_ascii_lowercase(), v.clone()),
            Matcher::HeaderRegexp(k, re) => Node::HeaderRegexp(k.to_ascii_lowercase(), regex(re)),
            Matcher::Query(k, v) => Node::Query(k.clone(), v.clone()),
            Matcher::QueryRegexp(k, re) => Node::QueryRegexp(k.clone(), regex(re)),
            Matcher::ClientIP(ip) => Node::ClientIP(match ip.parse::<IpNet>() {
                Ok(net) => net,
                Err(_) => IpNet::from(
                    ip.parse::<IpAddr>()
                        .unwrap_or_else(|e| panic!("validated ClientIP {ip:?}: {e}")),
                ),
            }),
        },
    }
}

impl CompiledRule {
    /// Whether the request satisfies the rule.
    pub fn matches(&self, req: &RequestView<'_>) -> bool {
        eval(&self.root, req)
    }
}

fn eval(node: &Node, req: &RequestView<'_>) -> bool {
    match node {
        Node::And(a, b) => eval(a, req) && eval(b, req),
        Node::Or(a, b) => eval(a, req) || eval(b, req),
        Node::Not(a) => !eval(a, req),
        Node::Host(p) => match p {
            HostPattern::Any => true,
            HostPattern::Exact(h) => req.host == h,
            HostPattern::OneLabel(suffix) => req
                .host
                .strip_suffix(suffix.as_str())
                .is_some_and(|label| !label.is_empty() && !label.contains('.')),
        },
        Node::HostRegexp(re) => re.is_match(req.host),
        Node::Path(p) => req.path == p,
        Node::PathPrefix(p) => req.path.starts_with(p.as_str()),
        Node::PathRegexp(re) => re.is_match(req.path),
        Node::Method(m) => req.method == m,
        Node::Header(k, v) => req.headers.any_value(k, &mut |val| val == v),
        Node::HeaderRegexp(k, re) => req.headers.any_value(k, &mut |val| re.is_match(val)),
        Node::Query(k, v) => {
            let want = v.as_deref().unwrap_or("");
            query_values(req.query, k, &mut |val| val == want)
        }
        Node::QueryRegexp(k, re) => query_values(req.query, k, &mut |val| re.is_match(val)),
        // An IPv4-mapped IPv6 peer (`::ffff:10.0.0.1`) matches IPv4 ranges, as in Go.
        Node::ClientIP(net) => req
            .client_ip
            .is_some_and(|ip| net.contains(&ip.to_canonical())),
    }
}
