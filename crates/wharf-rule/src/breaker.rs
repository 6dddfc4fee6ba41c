//! The circuitBreaker expression language (from vulcand/oxy, as Traefik uses it):
//! `NetworkErrorRatio() > 0.5 || LatencyAtQuantileMS(50.0) > 100`, with `&&`, `||`, `!`,
//! parentheses and the comparisons `<`, `<=`, `>`, `>=`, `==`, `!=`.

use crate::{BoolExpr, RuleError};

/// What a condition measures over the breaker's rolling window.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Metric {
    /// Share of requests answered 502 or 504.
    NetworkErrorRatio,
    /// Responses with a status in `part` divided by those in `of`, both `[from, to)` ranges.
    ResponseCodeRatio { part: (u16, u16), of: (u16, u16) },
    /// The latency at this quantile (percent), in milliseconds.
    LatencyAtQuantileMs(f64),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Comparison {
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
}

/// `metric op value`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Condition {
    pub metric: Metric,
    pub op: Comparison,
    pub value: f64,
}

impl Condition {
    pub fn holds(&self, measured: f64) -> bool {
        match self.op {
            Comparison::Lt => measured < self.value,
            Comparison::Le => measured <= self.value,
            Comparison::Gt => measured > self.value,
            Comparison::Ge => measured >= self.value,
            Comparison::Eq => measured == self.value,
            Comparison::Ne => measured != self.value,
        }
    }
}

pub type BreakerExpr = BoolExpr<Condition>;

const FUNCTIONS: &str = "NetworkErrorRatio(), ResponseCodeRatio(from, to, dividedByFrom, dividedByTo), LatencyAtQuantileMS(quantile)";

/// Parses a circuitBreaker `expression`; errors carry the column they point at.
pub fn parse_breaker_expression(src: &str) -> Result<BreakerExpr, RuleError> {
    let mut p = Parser { src, pos: 0 };
    p.skip_space();
    if p.pos == src.len() {
        return Err(p.error("the expression is empty", Some(FUNCTIONS)));
    }
    let expr = p.or()?;
    p.skip_space();
    if p.pos < src.len() {
        return Err(p.error(
            "unexpected text after the expression",
            Some("join conditions with && or ||"),
        ));
    }
    Ok(expr)
}

struct Parser<'a> {
    src: &'a str,
    pos: usize,
}

impl Parser<'_> {
    fn error(&self, message: &str, hint: Option<&str>) -> RuleError {
        RuleError::at(
            self.src,
            self.pos,
            message.to_string(),
            hint.map(str::to_string),
        )
    }

    fn rest(&self) -> &str {
        &self.src[self.pos..]
    }

    fn skip_space(&mut self) {
        let trimmed = self.rest().trim_start();
        self.pos = self.src.len() - trimmed.len();
    }

    fn eat(&mut self, token: &str) -> bool {
        self.skip_space();
        if self.rest().starts_with(token) {
            self.pos += token.len();
            true
        } else {
            false
        }
    }

    fn or(&mut self) -> Result<BreakerExpr, RuleError> {
        let mut left = self.and()?;
        while self.eat("||") {
            let right = self.and()?;
            left = BoolExpr::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<BreakerExpr, RuleError> {
        let mut left = self.unary()?;
        while self.eat("&&") {
            let right = self.unary()?;
            left = BoolExpr::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<BreakerExpr, RuleError> {
        if self.eat("!") {
            return Ok(BoolExpr::Not(Box::new(self.unary()?)));
        }
        if self.eat("(") {
            let inner = self.or()?;
            if !self.eat(")") {
                return Err(self.error("missing `)`", None));
            }
            return Ok(inner);
        }
        self.condition().map(BoolExpr::Leaf)
    }

    fn condition(&mut self) -> Result<Condition, RuleError> {
        self.skip_space();
        let start = self.pos;
        let name_len = self
            .rest()
            .find(|c: char| !c.is_ascii_alphanumeric())
            .unwrap_or(self.rest().len());
        let name = &self.src[start..start + name_len];
        if name.is_empty() {
            return Err(self.error(
                "expected a function such as NetworkErrorRatio()",
                Some(FUNCTIONS),
            ));
        }
        self.pos += name_len;
        if !self.eat("(") {
            return Err(self.error("expected `(` after the function name", None));
        }
        let mut args = Vec::new();
        if !self.eat(")") {
            loop {
                args.push(self.number()?);
                if self.eat(")") {
                    break;
                }
                if !self.eat(",") {
                    return Err(self.error("expected `,` or `)`", None));
                }
            }
        }
        let call_end = self.pos;
        let wrong_arity = |n: usize| {
            RuleError::at(
                self.src,
                start,
                format!("{name} takes {n} argument(s), found {}", args.len()),
                Some(FUNCTIONS.to_string()),
            )
        };
        let code = |v: f64| v as u16;
        let metric = match name {
            "NetworkErrorRatio" if args.is_empty() => Metric::NetworkErrorRatio,
            "NetworkErrorRatio" => return Err(wrong_arity(0)),
            "ResponseCodeRatio" if args.len() == 4 => Metric::ResponseCodeRatio {
                part: (code(args[0]), code(args[1])),
                of: (code(args[2]), code(args[3])),
            },
            "ResponseCodeRatio" => return Err(wrong_arity(4)),
            "LatencyAtQuantileMS" if args.len() == 1 => {
                if !(0.0..=100.0).contains(&args[0]) {
                    return Err(RuleError::at(
                        self.src,
                        start,
                        "LatencyAtQuantileMS takes a quantile from 0 to 100".into(),
                        None,
                    ));
                }
                Metric::LatencyAtQuantileMs(args[0])
            }
            "LatencyAtQuantileMS" => return Err(wrong_arity(1)),
            _ => {
                return Err(RuleError::at(
                    self.src,
                    start,
                    format!("unknown function `{name}`"),
                    Some(FUNCTIONS.to_string()),
                ))
            }
        };
        self.skip_space();
        let ops = [
            ("<=", Comparison::Le),
            (">=", Comparison::Ge),
            ("==", Comparison::Eq),
            ("!=", Comparison::Ne),
            ("<", Comparison::Lt),
            (">", Comparison::Gt),
        ];
        let Some(op) = ops.iter().find_map(|(t, op)| self.eat(t).then_some(*op)) else {
            self.pos = self.pos.max(call_end);
            return Err(self.error(
                &format!("{name}() must be compared to a value"),
                Some("e.g. NetworkErrorRatio() > 0.5"),
            ));
        };
        let value = self.number()?;
        Ok(Condition { metric, op, value })
    }

    fn number(&mut self) -> Result<f64, RuleError> {
        self.skip_space();
        let len = self
            .rest()
            .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-' || c == '+'))
            .unwrap_or(self.rest().len());
        match self.rest()[..len].parse::<f64>() {
            Ok(v) if v.is_finite() => {
                self.pos += len;
                Ok(v)
            }
            _ => Err(self.error("expected a number", None)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_traefiks_examples() {
        let e = parse_breaker_expression("NetworkErrorRatio() > 0.5").unwrap();
        assert_eq!(
            e,
            BoolExpr::Leaf(Condition {
                metric: Metric::NetworkErrorRatio,
                op: Comparison::Gt,
                value: 0.5
            })
        );
        let e = parse_breaker_expression(
            "ResponseCodeRatio(500, 600, 0, 600) > 0.25 || (LatencyAtQuantileMS(50.0) >= 100 && !NetworkErrorRatio() < 0.1)",
        )
        .unwrap();
        let mut seen = Vec::new();
        e.eval(&mut |c: &Condition| {
            seen.push(c.metric);
            false
        });
        assert_eq!(seen.len(), 2, "short-circuit: {seen:?}");
    }

    #[test]
    fn errors_point_at_the_problem() {
        let err = |s: &str| parse_breaker_expression(s).unwrap_err();
        assert_eq!(
            err("NetworkErrorRatio()").message,
            "NetworkErrorRatio() must be compared to a value"
        );
        assert_eq!(err("NetworkErrorRatio() > 0.5 && Foo() > 1").column, 30);
        assert_eq!(
            err("ResponseCodeRatio(500) > 0.5").message,
            "ResponseCodeRatio takes 4 argument(s), found 1"
        );
        assert_eq!(err("NetworkErrorRatio() > x").column, 23);
        assert_eq!(err("").message, "the expression is empty");
        assert_eq!(err("(NetworkErrorRatio() > 1").message, "missing `)`");
    }
}
