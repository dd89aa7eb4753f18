//! Label values: the [`LabelValue`] trait and the enums of closed label sets.

use std::borrow::Cow;
use std::fmt;
use std::rc::Rc;
use std::sync::Arc;

/// A value for a metric label.
///
/// Strings of every kind implement it, so `metrics().record_cache_hit("orchestrator")`
/// works; so do the enums of this crate ([`AgentType`], [`RequestStatus`] …).
/// Implement it for your own enum to get typed labels, usable in the attribute
/// macros too, where a misspelt variant is a compile error.
///
/// # Examples
///
/// ```
/// use insa_metrics::LabelValue;
///
/// #[derive(Clone, Copy)]
/// enum Table { Users, Deals }
///
/// impl LabelValue for Table {
///     fn as_label(&self) -> &str {
///         match self {
///             Table::Users => "users",
///             Table::Deals => "deals",
///         }
///     }
/// }
///
/// insa_metrics::metrics().record_database_operation("select", Table::Users);
/// ```
pub trait LabelValue {
    /// The label value as it appears in the exposition text.
    fn as_label(&self) -> &str;
}

impl LabelValue for str {
    fn as_label(&self) -> &str {
        self
    }
}

impl LabelValue for String {
    fn as_label(&self) -> &str {
        self
    }
}

impl LabelValue for Cow<'_, str> {
    fn as_label(&self) -> &str {
        self
    }
}

impl LabelValue for Box<str> {
    fn as_label(&self) -> &str {
        self
    }
}

impl LabelValue for Arc<str> {
    fn as_label(&self) -> &str {
        self
    }
}

impl LabelValue for Rc<str> {
    fn as_label(&self) -> &str {
        self
    }
}

impl<T: LabelValue + ?Sized> LabelValue for &T {
    fn as_label(&self) -> &str {
        (**self).as_label()
    }
}

/// The number of identifiers given.
macro_rules! count {
    () => { 0 };
    ($head:ident $($tail:ident)*) => { 1 + count!($($tail)*) };
}

/// Declares a closed set of label values: the enum, its `as_str`, [`LabelValue`]
/// and `Display`.
macro_rules! label_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident => $value:literal,)+ }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum $name {
            $($(#[$vmeta])* $variant,)+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: [$name; count!($($variant)+)] = [$($name::$variant,)+];

            /// The label value.
            #[must_use]
            pub const fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $value,)+
                }
            }
        }

        impl LabelValue for $name {
            fn as_label(&self) -> &str {
                self.as_str()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

label_enum! {
    /// The agents of the platform, as `agent_type` / `worker_name` label values.
    ///
    /// # Examples
    ///
    /// ```
    /// use insa_metrics::{AgentType, metrics};
    ///
    /// metrics().update_worker_health(AgentType::Sizing, "sizing", true);
    /// assert_eq!(AgentType::Sizing.as_str(), "sizing_agent");
    /// ```
    AgentType {
        /// The sizing agent worker: `sizing_agent`.
        Sizing => "sizing_agent",
        /// The CRM agent worker: `crm_agent`.
        Crm => "crm_agent",
        /// The orchestrator: `orchestrator`.
        Orchestrator => "orchestrator",
    }
}

label_enum! {
    /// The `status` of `insa_agent_requests_total`; every one is created at
    /// 0 with the first call of an agent.
    ///
    /// # Examples
    ///
    /// ```
    /// use insa_metrics::{RequestStatus, metrics};
    ///
    /// metrics().record_request("crm_agent", RequestStatus::Rejected);
    /// assert_eq!(RequestStatus::ALL.len(), 5);
    /// ```
    RequestStatus {
        /// The call returned, and not an `Err`.
        Success => "success",
        /// The call returned an `Err`, or panicked.
        Error => "error",
        /// The call returned an error that says it is a timeout.
        Timeout => "timeout",
        /// The future was dropped before it completed.
        Cancelled => "cancelled",
        /// The call was refused before it ran, e.g. by an open circuit breaker.
        Rejected => "rejected",
    }
}

label_enum! {
    /// A circuit breaker's state: `insa_circuit_breaker_state` is 0, 1 or 2.
    ///
    /// # Examples
    ///
    /// ```
    /// use insa_metrics::{CircuitState, metrics};
    ///
    /// metrics().record_circuit_breaker_transition("crm_agent", CircuitState::Closed, CircuitState::Open);
    /// assert_eq!(CircuitState::HalfOpen.gauge_value(), 2);
    /// ```
    CircuitState {
        /// Calls go through: 0.
        Closed => "closed",
        /// Calls are refused: 1.
        Open => "open",
        /// A trial call is let through: 2.
        HalfOpen => "half_open",
    }
}

impl CircuitState {
    /// The gauge value of `insa_circuit_breaker_state`.
    #[must_use]
    pub const fn gauge_value(self) -> i64 {
        match self {
            CircuitState::Closed => 0,
            CircuitState::Open => 1,
            CircuitState::HalfOpen => 2,
        }
    }
}

label_enum! {
    /// The `status` of `insa_dead_letter_replay_total`.
    ///
    /// # Examples
    ///
    /// ```
    /// use insa_metrics::{ReplayStatus, metrics};
    ///
    /// metrics().record_dead_letter_replay(ReplayStatus::Failure);
    /// assert_eq!(ReplayStatus::Failure.to_string(), "failure");
    /// ```
    ReplayStatus {
        /// The replayed message was processed.
        Success => "success",
        /// The replay failed again.
        Failure => "failure",
    }
}
