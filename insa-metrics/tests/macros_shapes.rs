//! Every kind of fn takes the attributes, its signature unchanged.
//!
//! Methods on `self`, `&self` and `&mut self`, generics with where-clauses,
//! `impl Trait`, lifetimes, `-> !`, other attributes, typed labels. (`unsafe
//! fn`, which the workspace forbids, is a trybuild pass case.)

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

    /// `&mut self` returning a borrow of `self`.
    #[track_request_metrics("shape_mut_borrow")]
    fn calls_mut(&mut self) -> &mut u32 {
        &mut self.calls
    }

    /// The same borrow inside a `Result`, with `?`.
    #[track_request_metrics("shape_mut_borrow_result")]
    fn first_char_mut(&mut self) -> Result<&mut str, std::io::Error> {
        let end = self.name.chars().next().map(char::len_utf8);
        let end = end.ok_or_else(|| std::io::Error::other("empty name"))?;
        Ok(&mut self.name[..end])
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
    *agent.calls_mut() += 1;
    assert_eq!(agent.bump().unwrap(), 3);
    agent.first_char_mut().unwrap().make_ascii_uppercase();
    assert_eq!(agent.into_name(), "Crm");
    assert_eq!(requests("shape_mut_self", "success"), 2.0);
    for label in [
        "shape_ref_self",
        "shape_mut_borrow",
        "shape_mut_borrow_result",
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

/// `impl Trait` inside a `Result`, with an error type that cannot be
/// classified and one that can.
#[track_request_metrics("shape_impl_in_result")]
fn evens(n: u32) -> Result<impl Iterator<Item = u32>, String> {
    if n == 0 {
        return Err(String::from("nothing to count"));
    }
    Ok((0..n).filter(|i| i % 2 == 0))
}

#[track_request_metrics("shape_impl_in_io_result")]
fn odds(n: u32) -> std::io::Result<impl Iterator<Item = u32>> {
    if n == 0 {
        Err(std::io::ErrorKind::TimedOut)?;
    }
    Ok((0..n).filter(|i| i % 2 == 1))
}

/// A borrow of a `&mut` argument.
#[track_request_metrics("shape_mut_argument")]
fn last_mut(values: &mut [u32]) -> Option<&mut u32> {
    values.last_mut()
}

#[test]
fn impl_trait_in_argument_and_return_position() {
    assert_eq!(labels("w", 2).collect::<Vec<_>>(), ["w0", "w1"]);
    assert_eq!(requests("shape_impl_trait", "success"), 1.0);
    assert_eq!(evens(5).unwrap().count(), 3);
    assert!(evens(0).is_err());
    assert_eq!(statuses("shape_impl_in_result"), [1.0, 1.0, 0.0, 0.0]);
    assert_eq!(odds(5).unwrap().count(), 2);
    assert!(odds(0).is_err());
    assert_eq!(statuses("shape_impl_in_io_result"), [1.0, 0.0, 1.0, 0.0]);
}

#[test]
fn borrows_of_mut_arguments_are_returned() {
    let mut values = [1, 2];
    *last_mut(&mut values).unwrap() = 5;
    assert_eq!(values, [1, 5]);
    assert_eq!(requests("shape_mut_argument", "success"), 1.0);
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

#[track_request_metrics("shape_never")]
fn serve_forever(requests: u32) -> ! {
    for request in 0..requests {
        assert!(request < 1, "request {request} crashed the loop");
    }
    panic!("the queue closed");
}

#[test]
fn diverging_fns_record_their_panic() {
    std::panic::catch_unwind(|| serve_forever(2)).unwrap_err();
    assert_eq!(statuses("shape_never"), [0.0, 1.0, 0.0, 0.0]);
}

#[track_request_metrics("shape_async_coercions")]
async fn read_config(path: &str) -> Result<u8, Box<dyn std::error::Error + Send + Sync>> {
    if path.is_empty() {
        return Err(Box::new(std::io::Error::from(std::io::ErrorKind::NotFound)));
    }
    let value = path.len().try_into()?;
    Ok(value)
}

#[test]
fn async_returns_coerce_to_the_declared_type() {
    macro_support::runtime().block_on(async {
        read_config("").await.unwrap_err();
        assert_eq!(read_config("abc").await.unwrap(), 3);
    });
    assert_eq!(statuses("shape_async_coercions"), [1.0, 1.0, 0.0, 0.0]);
}
