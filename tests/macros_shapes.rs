//! Every kind of fn takes the attributes unchanged: methods on `self`,
//! `&self` and `&mut self`, generics with where-clauses, `impl Trait`,
//! lifetimes, other attributes; typed labels. (`unsafe fn`, which the
//! workspace forbids, is a trybuild pass case.)

mod macro_support;

use std::fmt::Display;

use insa_metrics::{AgentType, LabelValue, track_request_metrics};
use macro_support::{requests, statuses};

struct Agent {
    name: String,
    calls: u32,
}

impl Agent {
    /// `&self` returning a borrow of `self` (elided lifetime).
    #[track_request_metrics("shape_ref_self")]
    fn name(&self) -> &str {
        &self.name
    }

    #[track_request_metrics("shape_mut_self")]
    fn bump(&mut self) -> Result<u32, std::io::Error> {
        self.calls += 1;
        Ok(self.calls)
    }

    #[track_request_metrics("shape_self")]
    fn into_name(self) -> String {
        self.name
    }

    /// Returns `Self`, from an associated fn.
    #[must_use]
    #[track_request_metrics("shape_new")]
    fn new(name: &str) -> Self {
        Agent {
            name: name.to_owned(),
            calls: 0,
        }
    }
}

#[test]
fn methods_on_every_receiver() {
    let mut agent = Agent::new("crm");
    assert_eq!(agent.name(), "crm");
    assert_eq!(agent.bump().unwrap(), 1);
    assert_eq!(agent.into_name(), "crm");
    for label in [
        "shape_ref_self",
        "shape_mut_self",
        "shape_self",
        "shape_new",
    ] {
        assert_eq!(requests(label, "success"), 1.0, "{label}");
    }
}

#[track_request_metrics("shape_generic")]
fn largest<T, I>(items: I) -> Result<T, String>
where
    T: PartialOrd + Copy,
    I: IntoIterator<Item = T>,
{
    items
        .into_iter()
        .fold(None, |max: Option<T>, x| match max {
            Some(m) if m >= x => Some(m),
            _ => Some(x),
        })
        .ok_or_else(|| "empty".to_owned())
}

#[test]
fn generic_fns_share_one_call_site() {
    assert_eq!(largest([1, 3, 2]).unwrap(), 3);
    assert_eq!(largest(vec![0.5, 0.25]).unwrap(), 0.5);
    largest(Vec::<u8>::new()).unwrap_err();
    assert_eq!(statuses("shape_generic"), [2.0, 1.0, 0.0, 0.0]);
}

#[track_request_metrics("shape_impl_trait")]
fn labels(prefix: impl Display, n: u32) -> impl Iterator<Item = String> {
    let prefix = prefix.to_string();
    (0..n).map(move |i| format!("{prefix}{i}"))
}

#[test]
fn impl_trait_in_argument_and_return_position() {
    assert_eq!(labels("w", 2).collect::<Vec<_>>(), ["w0", "w1"]);
    assert_eq!(requests("shape_impl_trait", "success"), 1.0);
}

#[track_request_metrics("shape_lifetimes")]
fn longest<'a, 'b: 'a>(a: &'a str, b: &'b str) -> Result<&'a str, &'static str> {
    if a.is_empty() && b.is_empty() {
        return Err("both empty");
    }
    Ok(if a.len() >= b.len() { a } else { b })
}

#[test]
fn lifetimes_flow_through() {
    assert_eq!(longest("ab", "c").unwrap(), "ab");
    longest("", "").unwrap_err();
    assert_eq!(statuses("shape_lifetimes"), [1.0, 1.0, 0.0, 0.0]);
}

#[inline]
#[must_use = "the sum is the point"]
#[track_request_metrics("shape_attrs")]
#[allow(clippy::cast_possible_truncation)]
fn sum(values: &[u64]) -> u32 {
    values.iter().sum::<u64>() as u32
}

#[test]
fn other_attributes_still_apply() {
    assert_eq!(sum(&[1, 2]), 3);
    assert_eq!(requests("shape_attrs", "success"), 1.0);
}

#[track_request_metrics("shape_box_dyn")]
fn shown(number: bool) -> Box<dyn Display> {
    if number {
        return Box::new(1);
    }
    Box::new("one")
}

#[test]
fn returns_coerce_to_the_declared_type() {
    assert_eq!(shown(true).to_string(), "1");
    assert_eq!(shown(false).to_string(), "one");
}

/// A label set of the user's own.
#[derive(Clone, Copy)]
enum Queue {
    Billing,
}

impl LabelValue for Queue {
    fn as_label(&self) -> &str {
        match self {
            Queue::Billing => "shape_typed_billing",
        }
    }
}

const AGENT: AgentType = AgentType::Orchestrator;

#[track_request_metrics(Queue::Billing)]
fn billing() {}

#[track_request_metrics(agent_type = AGENT)]
fn orchestrate() {}

#[test]
fn typed_labels_from_enums_and_consts() {
    billing();
    orchestrate();
    assert_eq!(requests("shape_typed_billing", "success"), 1.0);
    assert_eq!(requests("orchestrator", "success"), 1.0);
}

trait Sized2 {
    fn area(&self) -> u32;

    #[track_request_metrics("shape_trait_default")]
    fn doubled(&self) -> u32 {
        self.area() * 2
    }
}

impl Sized2 for Agent {
    fn area(&self) -> u32 {
        self.calls + 1
    }
}

#[test]
fn trait_default_methods() {
    let agent = Agent {
        name: String::new(),
        calls: 0,
    };
    assert_eq!(agent.doubled(), 2);
    assert_eq!(requests("shape_trait_default", "success"), 1.0);
}
